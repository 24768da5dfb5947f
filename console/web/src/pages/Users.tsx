import { useState } from 'react';
import { Badge, Button, Group, Modal, Tabs, Text, TextInput, Textarea } from '@mantine/core';
import { IconEye, IconKey, IconTrash } from '@tabler/icons-react';
import { useNavigate } from 'react-router';
import { get, post, put, type Json } from '../api';
import { batch, usePaged } from '../hooks';
import { useT } from '../i18n';
import { Card, ConfirmDelete, CreateButton, DataTable, ErrorNote, FormDialog, Page, Pager, formatTime, useSubmit } from '../components/kit';
import { CodeEditor } from '../components/CodeEditor';

type Tab = 'users' | 'groups' | 'strategies';
const ROUTES: Record<Tab, string> = { users: '/user', groups: '/usergroup', strategies: '/policy' };

export function UsersPage({ tab }: { tab: Tab }) {
  const t = useT();
  const navigate = useNavigate();
  const [creating, setCreating] = useState(false);
  return (
    <Page
      title={t('Users')}
      description={t('Accounts, user groups and the strategies that grant them access.')}
      actions={<CreateButton onClick={() => setCreating(true)} />}
    >
      <Card>
        <Tabs value={tab} onChange={(v) => navigate(ROUTES[v as Tab])}>
          <Tabs.List mb="md">
            <Tabs.Tab value="users">{t('Users')}</Tabs.Tab>
            <Tabs.Tab value="groups">{t('User groups')}</Tabs.Tab>
            <Tabs.Tab value="strategies">{t('Strategies')}</Tabs.Tab>
          </Tabs.List>
        </Tabs>
        {tab === 'users' && <UserList creating={creating} onCreated={() => setCreating(false)} />}
        {tab === 'groups' && <GroupList creating={creating} onCreated={() => setCreating(false)} />}
        {tab === 'strategies' && <StrategyList creating={creating} onCreated={() => setCreating(false)} />}
      </Card>
    </Page>
  );
}

function UserList({ creating, onCreated }: { creating: boolean; onCreated: () => void }) {
  const t = useT();
  const list = usePaged('/core/v1/users', {}, batch('users'));
  const [deleting, setDeleting] = useState<Json | null>(null);
  const [password, setPassword] = useState<Json | null>(null);
  const [error, setError] = useState<unknown>(null);
  const setToken = async (user: Json, enable: boolean) => {
    setError(null);
    try {
      await put('/core/v1/user/token/status', { id: user.id, token_enable: enable });
      await list.reload();
    } catch (e) {
      setError(e);
    }
  };
  return (
    <>
      <DataTable
        caption={t('Users')}
        rows={list.rows}
        loading={list.loading}
        error={error ?? list.error}
        rowKey={(u) => u.id}
        columns={[
          { header: t('Name'), cell: (u) => <Text size="sm" fw={500}>{u.name}</Text> },
          {
            header: t('Type'),
            cell: (u) => (
              <Badge variant="light" color={u.owner ? 'gray' : 'blue'} tt="none" size="sm">
                {u.owner ? t('Sub-account') : t('Main account')}
              </Badge>
            ),
          },
          { header: t('Description'), cell: (u) => u.comment || '-' },
          { header: t('Token'), cell: (u) => (u.token_enable ? t('Enabled') : t('Disabled')) },
          { header: t('Created'), cell: (u) => formatTime(u.ctime) },
          {
            header: t('Actions'),
            cell: (u) => (
              <Group gap={4} wrap="nowrap">
                <Button size="compact-sm" variant="subtle" leftSection={<IconKey size={14} aria-hidden="true" />} onClick={() => setPassword(u)}>
                  {t('Change password')}
                </Button>
                {u.owner && (
                  <Button size="compact-sm" variant="subtle" color="orange" onClick={() => void setToken(u, !u.token_enable)}>
                    {u.token_enable ? t('Disable token') : t('Enable token')}
                  </Button>
                )}
                {u.owner && (
                  <Button size="compact-sm" variant="subtle" color="red" leftSection={<IconTrash size={14} aria-hidden="true" />} onClick={() => setDeleting(u)}>
                    {t('Delete')}
                  </Button>
                )}
              </Group>
            ),
          },
        ]}
      />
      <Pager total={list.total} offset={list.offset} limit={list.limit} onChange={list.setPage} />
      {creating && <UserDialog onClose={onCreated} onSaved={list.reload} />}
      {password && <PasswordDialog user={password} onClose={() => setPassword(null)} />}
      <ConfirmDelete
        target={deleting?.name ?? null}
        onClose={() => setDeleting(null)}
        onConfirm={async () => {
          await post('/core/v1/users/delete', [{ id: deleting.id }]);
          await list.reload();
        }}
      />
    </>
  );
}

function UserDialog({ onClose, onSaved }: { onClose: () => void; onSaved: () => void }) {
  const t = useT();
  const [form, setForm] = useState({ name: '', password: '', comment: '' });
  const { saving, error, submit } = useSubmit();
  return (
    <FormDialog
      opened
      title={t('Create user')}
      onClose={onClose}
      saving={saving}
      error={error}
      onSave={() =>
        submit(async () => {
        if (!form.name.trim()) throw new Error(t('Name is required'));
        if (form.password.length < 6) throw new Error(t('The password needs at least 6 characters'));
        await post('/core/v1/users', [{ name: form.name.trim(), password: form.password, comment: form.comment }]);
        onSaved();
        onClose();
        })
      }
    >
      <TextInput label={t('Name')} value={form.name} onChange={(e) => setForm({ ...form, name: e.currentTarget.value })} data-autofocus autoComplete="off" />
      <TextInput type="password" label={t('Password')} value={form.password} onChange={(e) => setForm({ ...form, password: e.currentTarget.value })} autoComplete="new-password" />
      <Textarea label={t('Description')} value={form.comment} onChange={(e) => setForm({ ...form, comment: e.currentTarget.value })} autosize minRows={2} />
    </FormDialog>
  );
}

function PasswordDialog({ user, onClose }: { user: Json; onClose: () => void }) {
  const t = useT();
  const [form, setForm] = useState({ old: '', next: '' });
  const { saving, error, submit } = useSubmit();
  return (
    <FormDialog
      opened
      title={t('Change the password of {name}', { name: user.name })}
      onClose={onClose}
      saving={saving}
      error={error}
      onSave={() =>
        submit(async () => {
        await put('/core/v1/user/password', { id: user.id, old_password: form.old, new_password: form.next });
        onClose();
        })
      }
    >
      <TextInput type="password" label={t('Current password')} value={form.old} onChange={(e) => setForm({ ...form, old: e.currentTarget.value })} autoComplete="current-password" data-autofocus />
      <TextInput type="password" label={t('New password')} value={form.next} onChange={(e) => setForm({ ...form, next: e.currentTarget.value })} autoComplete="new-password" />
    </FormDialog>
  );
}

function GroupList({ creating, onCreated }: { creating: boolean; onCreated: () => void }) {
  const t = useT();
  const list = usePaged('/core/v1/usergroups', {}, batch('userGroups'));
  const [deleting, setDeleting] = useState<Json | null>(null);
  const [form, setForm] = useState({ name: '', comment: '' });
  const { saving, error, submit } = useSubmit();
  return (
    <>
      <DataTable
        caption={t('User groups')}
        rows={list.rows}
        loading={list.loading}
        error={list.error}
        rowKey={(g) => g.id}
        columns={[
          { header: t('Name'), cell: (g) => <Text size="sm" fw={500}>{g.name}</Text> },
          { header: t('Members'), cell: (g) => g.user_count ?? 0 },
          { header: t('Description'), cell: (g) => g.comment || '-' },
          { header: t('Created'), cell: (g) => formatTime(g.ctime) },
          {
            header: t('Actions'),
            cell: (g) => (
              <Button size="compact-sm" variant="subtle" color="red" leftSection={<IconTrash size={14} aria-hidden="true" />} onClick={() => setDeleting(g)}>
                {t('Delete')}
              </Button>
            ),
          },
        ]}
      />
      <Pager total={list.total} offset={list.offset} limit={list.limit} onChange={list.setPage} />
      <FormDialog
        opened={creating}
        title={t('Create user group')}
        onClose={onCreated}
        error={error}
        saving={saving}
        onSave={() =>
          submit(async () => {
            if (!form.name.trim()) throw new Error(t('Name is required'));
            await post('/core/v1/usergroup', { name: form.name.trim(), comment: form.comment });
            setForm({ name: '', comment: '' });
            await list.reload();
            onCreated();
          })
        }
      >
        <TextInput label={t('Name')} value={form.name} onChange={(e) => setForm({ ...form, name: e.currentTarget.value })} data-autofocus />
        <Textarea label={t('Description')} value={form.comment} onChange={(e) => setForm({ ...form, comment: e.currentTarget.value })} autosize minRows={2} />
      </FormDialog>
      <ConfirmDelete
        target={deleting?.name ?? null}
        onClose={() => setDeleting(null)}
        onConfirm={async () => {
          await post('/core/v1/usergroups/delete', [{ id: deleting.id }]);
          await list.reload();
        }}
      />
    </>
  );
}

const STRATEGY_TEMPLATE = {
  comment: '',
  action: 'READ_WRITE',
  principals: { users: [], groups: [] },
  resources: { namespaces: [{ id: 'default' }], services: [], config_groups: [] },
};

function StrategyList({ creating, onCreated }: { creating: boolean; onCreated: () => void }) {
  const t = useT();
  const list = usePaged('/core/v1/auth/strategies', {}, batch('authStrategies'));
  const [deleting, setDeleting] = useState<Json | null>(null);
  const [viewing, setViewing] = useState<Json | null>(null);
  const [viewError, setViewError] = useState<unknown>(null);
  const view = async (s: Json) => {
    setViewError(null);
    try {
      setViewing((await get('/core/v1/auth/strategy/detail', { id: s.id })).authStrategy);
    } catch (e) {
      setViewError(e);
    }
  };
  return (
    <>
      <DataTable
        caption={t('Strategies')}
        rows={list.rows}
        loading={list.loading}
        error={viewError ?? list.error}
        rowKey={(s) => s.id}
        columns={[
          { header: t('Name'), cell: (s) => <Text size="sm" fw={500}>{s.name}</Text> },
          {
            header: t('Kind'),
            cell: (s) => (
              <Badge variant="light" color={s.default_strategy ? 'gray' : 'blue'} tt="none" size="sm">
                {s.default_strategy ? t('Default') : t('Custom')}
              </Badge>
            ),
          },
          { header: t('Access'), cell: (s) => (s.action === 'READ_ONLY' ? t('Read only') : t('Read and write')) },
          { header: t('Description'), cell: (s) => s.comment || '-' },
          { header: t('Updated'), cell: (s) => formatTime(s.mtime) },
          {
            header: t('Actions'),
            cell: (s) => (
              <Group gap={4} wrap="nowrap">
                <Button size="compact-sm" variant="subtle" leftSection={<IconEye size={14} aria-hidden="true" />} onClick={() => void view(s)}>
                  {t('View')}
                </Button>
                {!s.default_strategy && (
                  <Button size="compact-sm" variant="subtle" color="red" leftSection={<IconTrash size={14} aria-hidden="true" />} onClick={() => setDeleting(s)}>
                    {t('Delete')}
                  </Button>
                )}
              </Group>
            ),
          },
        ]}
      />
      <Pager total={list.total} offset={list.offset} limit={list.limit} onChange={list.setPage} />
      {creating && <StrategyDialog onClose={onCreated} onSaved={list.reload} />}
      <Modal opened={!!viewing} onClose={() => setViewing(null)} title={viewing?.name ?? ''} size="lg" closeButtonProps={{ 'aria-label': t('Close') }}>
        {viewing && <CodeEditor language="json" label={t('Strategy')} value={JSON.stringify(viewing, null, 2)} readOnly minHeight={300} />}
      </Modal>
      <ConfirmDelete
        target={deleting?.name ?? null}
        onClose={() => setDeleting(null)}
        onConfirm={async () => {
          await post('/core/v1/auth/strategies/delete', [{ id: deleting.id }]);
          await list.reload();
        }}
      />
    </>
  );
}

function StrategyDialog({ onClose, onSaved }: { onClose: () => void; onSaved: () => void }) {
  const t = useT();
  const [name, setName] = useState('');
  const [text, setText] = useState(JSON.stringify(STRATEGY_TEMPLATE, null, 2));
  const { saving, error, submit } = useSubmit();
  return (
    <FormDialog
      opened
      size="lg"
      title={t('Create strategy')}
      onClose={onClose}
      saving={saving}
      error={error}
      onSave={() =>
        submit(async () => {
        if (!name.trim()) throw new Error(t('Name is required'));
        let body: Json;
        try {
          body = JSON.parse(text);
        } catch (e) {
          throw new Error(t('Invalid JSON: {why}', { why: (e as Error).message }));
        }
        await post('/core/v1/auth/strategy', { ...body, name: name.trim() });
        onSaved();
        onClose();
        })
      }
    >
      <TextInput label={t('Name')} value={name} onChange={(e) => setName(e.currentTarget.value)} data-autofocus />
      <div>
        <Text size="sm" fw={500} mb={4}>
          {t('Strategy (JSON)')}
        </Text>
        <CodeEditor language="json" label={t('Strategy (JSON)')} value={text} onChange={setText} minHeight={260} />
      </div>
      <ErrorNote error={null} />
    </FormDialog>
  );
}

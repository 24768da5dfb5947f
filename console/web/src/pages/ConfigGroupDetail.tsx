import { useEffect, useState } from 'react';
import { Anchor, Badge, Breadcrumbs, Button, Grid, Group, Modal, NativeSelect, Stack, Tabs, Text, TextInput, Textarea, UnstyledButton } from '@mantine/core';
import { IconArrowBackUp, IconDeviceFloppy, IconEye, IconFlask, IconSend, IconTrash } from '@tabler/icons-react';
import { useQuery } from '@tanstack/react-query';
import { Link, useSearchParams } from 'react-router';
import { del, get, post, put, type Json } from '../api';
import { batch, usePaged } from '../hooks';
import { useT } from '../i18n';
import { Card, ConfirmDelete, CreateButton, DataTable, ErrorNote, FormDialog, Page, Pager, formatTime, useSubmit } from '../components/kit';
import { CodeEditor, DiffView, languageOf } from '../components/CodeEditor';

const FORMATS = ['yaml', 'json', 'properties', 'xml', 'text', 'html'];

function releaseName() {
  const d = new Date();
  const pad = (n: number) => String(n).padStart(2, '0');
  const suffix = Math.random().toString(36).slice(2, 6);
  return `v${d.getFullYear()}${pad(d.getMonth() + 1)}${pad(d.getDate())}-${pad(d.getHours())}${pad(d.getMinutes())}${pad(d.getSeconds())}-${suffix}`;
}

export default function ConfigGroupDetailPage() {
  const t = useT();
  const [params, setParams] = useSearchParams();
  const namespace = params.get('namespace') ?? '';
  const group = params.get('group') ?? '';
  const selected = params.get('file') ?? '';
  const files = usePaged('/config/v1/configfiles/by-group', { namespace, group }, batch('configFiles'));
  const [creating, setCreating] = useState(false);
  const select = (name: string) => setParams({ namespace, group, file: name });
  useEffect(() => {
    if (!selected && files.rows.length > 0) select(files.rows[0].name);
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [selected, files.rows.length]);
  return (
    <Page title={group} description={t('Namespace {ns}', { ns: namespace })} actions={<CreateButton onClick={() => setCreating(true)} />}>
      <Breadcrumbs mt={-8}>
        <Anchor component={Link} to="/configuration" size="sm">
          {t('Configuration')}
        </Anchor>
        <Text size="sm">{group}</Text>
      </Breadcrumbs>
      <Grid gutter="md">
        <Grid.Col span={{ base: 12, md: 4 }}>
          <Card>
            <Text fw={600} mb="xs">
              {t('Files')}
            </Text>
            <DataTable
              caption={t('Files')}
              rows={files.rows}
              loading={files.loading}
              error={files.error}
              rowKey={(f) => f.name}
              columns={[
                {
                  header: t('Name'),
                  cell: (f) => (
                    <UnstyledButton onClick={() => select(f.name)} aria-current={f.name === selected ? 'true' : undefined} className="pc-file-link" data-active={f.name === selected || undefined}>
                      {f.name}
                    </UnstyledButton>
                  ),
                },
                { header: t('Format'), cell: (f) => f.format },
                { header: t('Status'), cell: (f) => <FileStatus status={f.status} /> },
              ]}
            />
            <Pager total={files.total} offset={files.offset} limit={files.limit} onChange={files.setPage} />
          </Card>
        </Grid.Col>
        <Grid.Col span={{ base: 12, md: 8 }}>
          {selected ? (
            <FilePanel key={selected} namespace={namespace} group={group} name={selected} onChanged={files.reload} onDeleted={() => {
              setParams({ namespace, group });
              void files.reload();
            }} />
          ) : (
            <Card>
              <Text c="dimmed" size="sm">
                {t('No file yet: create one.')}
              </Text>
            </Card>
          )}
        </Grid.Col>
      </Grid>
      {creating && (
        <FileDialog
          namespace={namespace}
          group={group}
          onClose={() => setCreating(false)}
          onSaved={(name) => {
            void files.reload();
            select(name);
          }}
        />
      )}
    </Page>
  );
}

function FileStatus({ status }: { status?: string }) {
  const t = useT();
  const map: Record<string, [string, string]> = {
    normal: ['green', 'Published'],
    success: ['green', 'Published'],
    'to-be-released': ['orange', 'Not published'],
    betaing: ['violet', 'Gray release'],
  };
  const [color, label] = map[status ?? ''] ?? ['orange', 'Not published'];
  return (
    <Badge variant="light" color={color} tt="none" size="sm">
      {t(label)}
    </Badge>
  );
}

function FilePanel({ namespace, group, name, onChanged, onDeleted }: {
  namespace: string;
  group: string;
  name: string;
  onChanged: () => void;
  onDeleted: () => void;
}) {
  const t = useT();
  const file = useQuery({
    queryKey: ['/config/v1/configfiles', namespace, group, name],
    queryFn: async () => (await get('/config/v1/configfiles', { namespace, group, name })).configFile as Json,
  });
  const [content, setContent] = useState<string | null>(null);
  const [busy, setBusy] = useState('');
  const [error, setError] = useState<unknown>(null);
  const [notice, setNotice] = useState('');
  const [deleting, setDeleting] = useState(false);
  const [gray, setGray] = useState(false);
  const [tab, setTab] = useState<string | null>('edit');
  const f = file.data;
  const text = content ?? f?.content ?? '';
  const dirty = content !== null && content !== f?.content;
  const save = async () => {
    await put('/config/v1/configfiles', { ...f, content: text });
    setContent(null);
    await file.refetch();
    onChanged();
  };
  const run = async (what: string, action: () => Promise<void>, done: string) => {
    setBusy(what);
    setError(null);
    setNotice('');
    try {
      await action();
      setNotice(done);
    } catch (e) {
      setError(e);
    } finally {
      setBusy('');
    }
  };
  const publish = async (extra: Json = {}) => {
    if (dirty) await save();
    await post('/config/v1/configfiles/release', { namespace, group, fileName: name, name: releaseName(), ...extra });
    await file.refetch();
    onChanged();
  };
  return (
    <Card>
      <Group justify="space-between" mb="sm">
        <Group gap="xs">
          <Text fw={600}>{name}</Text>
          {f && <FileStatus status={f.status} />}
          {dirty && (
            <Badge color="yellow" variant="light" tt="none" size="sm">
              {t('Unsaved changes')}
            </Badge>
          )}
        </Group>
        <Group gap="xs">
          <Button variant="default" leftSection={<IconDeviceFloppy size={16} aria-hidden="true" />} disabled={!dirty} loading={busy === 'save'} onClick={() => void run('save', save, t('Saved.'))}>
            {t('Save')}
          </Button>
          <Button leftSection={<IconSend size={16} aria-hidden="true" />} loading={busy === 'publish'} onClick={() => void run('publish', () => publish(), t('Published.'))}>
            {t('Publish')}
          </Button>
          <Button variant="light" color="violet" leftSection={<IconFlask size={16} aria-hidden="true" />} onClick={() => setGray(true)}>
            {t('Gray release')}
          </Button>
          {f?.status === 'betaing' && (
            <Button variant="subtle" color="violet" loading={busy === 'stop'} onClick={() => void run('stop', async () => {
              await post('/config/v1/configfiles/releases/stopbeta', [{ namespace, group, fileName: name }]);
              await file.refetch();
              onChanged();
            }, t('Gray release stopped.'))}>
              {t('Stop gray release')}
            </Button>
          )}
          <Button variant="subtle" color="red" leftSection={<IconTrash size={16} aria-hidden="true" />} onClick={() => setDeleting(true)}>
            {t('Delete')}
          </Button>
        </Group>
      </Group>
      {notice && (
        <Text size="sm" c="green.8" role="status" mb="xs">
          {notice}
        </Text>
      )}
      <ErrorNote error={error ?? file.error} />
      <Tabs value={tab} onChange={setTab} keepMounted={false}>
        <Tabs.List mb="sm">
          <Tabs.Tab value="edit">{t('Editor')}</Tabs.Tab>
          <Tabs.Tab value="versions">{t('Versions')}</Tabs.Tab>
          <Tabs.Tab value="history">{t('Release history')}</Tabs.Tab>
        </Tabs.List>
        <Tabs.Panel value="edit">
          {f ? (
            <Stack gap="xs">
              <CodeEditor language={languageOf(f.format, name)} label={t('Content')} value={text} onChange={setContent} minHeight={360} />
              <Text size="xs" c="dimmed">
                {t('Format {format} · updated {time} · released {release}', { format: f.format, time: formatTime(f.modifyTime), release: formatTime(f.releaseTime) })}
              </Text>
            </Stack>
          ) : null}
        </Tabs.Panel>
        <Tabs.Panel value="versions">
          <Versions namespace={namespace} group={group} name={name} current={text} format={f?.format} onRolledBack={() => {
            void file.refetch();
            onChanged();
          }} />
        </Tabs.Panel>
        <Tabs.Panel value="history">
          <History namespace={namespace} group={group} name={name} />
        </Tabs.Panel>
      </Tabs>
      <ConfirmDelete
        target={deleting ? name : null}
        onClose={() => setDeleting(false)}
        onConfirm={async () => {
          await del('/config/v1/configfiles', { namespace, group, name });
          onDeleted();
        }}
      />
      {gray && <GrayDialog onClose={() => setGray(false)} onRelease={async (labels) => {
        await publish({ releaseType: 'gray', betaLabels: labels });
        setNotice(t('Gray release started.'));
      }} />}
    </Card>
  );
}

function GrayDialog({ onClose, onRelease }: { onClose: () => void; onRelease: (labels: Json[]) => Promise<void> }) {
  const t = useT();
  const [ips, setIps] = useState('');
  const { saving, error, submit } = useSubmit();
  return (
    <FormDialog
      opened
      title={t('Gray release')}
      onClose={onClose}
      saving={saving}
      error={error}
      onSave={() =>
        submit(async () => {
          const list = ips.split(/[\s,]+/).filter(Boolean);
          if (list.length === 0) throw new Error(t('Give at least one client IP'));
          await onRelease([{ key: 'CLIENT_IP', value: { type: 'IN', value: list.join(','), value_type: 'TEXT' } }]);
          onClose();
        })
      }
    >
      <Text size="sm" c="dimmed">
        {t('Only the clients listed get the current content; every other client keeps the last full release.')}
      </Text>
      <Textarea label={t('Client IPs')} description={t('Separated by commas or new lines')} value={ips} onChange={(e) => setIps(e.currentTarget.value)} autosize minRows={3} data-autofocus />
    </FormDialog>
  );
}

function Versions({ namespace, group, name, current, format, onRolledBack }: {
  namespace: string;
  group: string;
  name: string;
  current: string;
  format?: string;
  onRolledBack: () => void;
}) {
  const t = useT();
  const list = usePaged('/config/v1/configfiles/releases', { namespace, group, file_name: name }, batch('configFileReleases'));
  const [diff, setDiff] = useState<{ release: string; content: string } | null>(null);
  const [error, setError] = useState<unknown>(null);
  const showDiff = async (release: Json) => {
    setError(null);
    try {
      const one = await get('/config/v1/configfiles/release', { namespace, group, file_name: name, release_name: release.name });
      setDiff({ release: release.name, content: one.configFileRelease?.content ?? '' });
    } catch (e) {
      setError(e);
    }
  };
  const rollback = async (release: Json) => {
    setError(null);
    try {
      await put('/config/v1/configfiles/releases/rollback', [{ namespace, group, fileName: name, name: release.name }]);
      await list.reload();
      onRolledBack();
    } catch (e) {
      setError(e);
    }
  };
  const rows = [...list.rows].sort((a, b) => Number(b.version ?? 0) - Number(a.version ?? 0));
  return (
    <>
      <DataTable
        caption={t('Versions')}
        rows={rows}
        loading={list.loading}
        error={error ?? list.error}
        rowKey={(r) => r.id ?? r.name}
        columns={[
          {
            header: t('Release'),
            cell: (r) => (
              <Group gap={6} wrap="nowrap">
                <Text size="sm" fw={500}>
                  {r.name}
                </Text>
                {r.releaseType === 'gray' && (
                  <Badge color="violet" variant="light" tt="none" size="sm">
                    {t('Gray')}
                  </Badge>
                )}
              </Group>
            ),
          },
          { header: t('Version'), cell: (r) => r.version },
          {
            header: t('State'),
            cell: (r) => (r.active ? <Badge color="green" variant="light" tt="none" size="sm">{t('In use')}</Badge> : <Text size="sm" c="dimmed">-</Text>),
          },
          { header: t('Released'), cell: (r) => formatTime(r.modifyTime ?? r.createTime).slice(5) },
          {
            header: t('Actions'),
            cell: (r) => (
              <Group gap={4} wrap="nowrap">
                <Button size="compact-sm" variant="subtle" leftSection={<IconEye size={14} aria-hidden="true" />} onClick={() => void showDiff(r)}>
                  {t('Compare')}
                </Button>
                {!r.active && r.releaseType !== 'gray' && (
                  <Button size="compact-sm" variant="subtle" color="orange" leftSection={<IconArrowBackUp size={14} aria-hidden="true" />} onClick={() => void rollback(r)}>
                    {t('Roll back')}
                  </Button>
                )}
              </Group>
            ),
          },
        ]}
      />
      <Pager total={list.total} offset={list.offset} limit={list.limit} onChange={list.setPage} />
      <Modal opened={!!diff} onClose={() => setDiff(null)} title={t('Release {name} (left) against the current content (right)', { name: diff?.release ?? '' })} size="90%" closeButtonProps={{ 'aria-label': t('Close') }}>
        {diff && <DiffView before={diff.content} after={current} language={languageOf(format, name)} label={t('Difference')} />}
      </Modal>
    </>
  );
}

function History({ namespace, group, name }: { namespace: string; group: string; name: string }) {
  const t = useT();
  const list = usePaged('/config/v1/configfiles/releasehistory', { namespace, group, name }, batch('configFileReleaseHistories'));
  return (
    <>
      <DataTable
        caption={t('Release history')}
        rows={list.rows}
        loading={list.loading}
        error={list.error}
        rowKey={(r) => r.id}
        columns={[
          { header: t('Release'), cell: (r) => r.name },
          { header: t('Type'), cell: (r) => r.type },
          { header: t('Status'), cell: (r) => <Badge variant="light" color={r.status === 'success' ? 'green' : 'red'} tt="none" size="sm">{r.status}</Badge> },
          { header: t('Checksum (MD5)'), cell: (r) => <span className="pc-mono">{r.md5?.slice(0, 12) || '-'}</span> },
          { header: t('By'), cell: (r) => r.modifyBy || r.createBy || '-' },
          { header: t('Time'), cell: (r) => formatTime(r.modifyTime ?? r.createTime) },
        ]}
      />
      <Pager total={list.total} offset={list.offset} limit={list.limit} onChange={list.setPage} />
    </>
  );
}

function FileDialog({ namespace, group, onClose, onSaved }: { namespace: string; group: string; onClose: () => void; onSaved: (name: string) => void }) {
  const t = useT();
  const [form, setForm] = useState({ name: '', format: 'yaml', comment: '', content: '' });
  const { saving, error, submit } = useSubmit();
  return (
    <FormDialog
      opened
      size="lg"
      title={t('Create configuration file')}
      onClose={onClose}
      saving={saving}
      error={error}
      onSave={() =>
        submit(async () => {
        if (!form.name.trim()) throw new Error(t('Name is required'));
        await post('/config/v1/configfiles', { namespace, group, name: form.name.trim(), format: form.format, comment: form.comment, content: form.content });
        onSaved(form.name.trim());
        onClose();
        })
      }
    >
      <Group grow align="flex-start">
        <TextInput label={t('Name')} placeholder="application.yaml" value={form.name} onChange={(e) => {
          const name = e.currentTarget.value;
          const ext = name.split('.').pop()?.toLowerCase() ?? '';
          setForm({ ...form, name, format: FORMATS.includes(ext) ? ext : ext === 'yml' ? 'yaml' : form.format });
        }} data-autofocus />
        <NativeSelect label={t('Format')} data={FORMATS} value={form.format} onChange={(e) => setForm({ ...form, format: e.currentTarget.value })} />
      </Group>
      <TextInput label={t('Description')} value={form.comment} onChange={(e) => setForm({ ...form, comment: e.currentTarget.value })} />
      <div>
        <Text size="sm" fw={500} mb={4}>
          {t('Content')}
        </Text>
        <CodeEditor language={languageOf(form.format)} label={t('Content')} value={form.content} onChange={(content) => setForm((f) => ({ ...f, content }))} minHeight={200} />
      </div>
    </FormDialog>
  );
}

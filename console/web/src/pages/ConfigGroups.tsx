import { useState } from 'react';
import { Anchor, Button, Group, TextInput, Textarea } from '@mantine/core';
import { IconSearch } from '@tabler/icons-react';
import { Link } from 'react-router';
import { del, post, put, type Json } from '../api';
import { batch, usePaged } from '../hooks';
import { useT } from '../i18n';
import { Card, ConfirmDelete, CreateButton, DataTable, FormDialog, Page, Pager, formatTime, RowActions, useSubmit } from '../components/kit';
import { NamespaceField } from '../components/fields';

export function ConfigGroupsPage() {
  const t = useT();
  const [draft, setDraft] = useState({ namespace: '', name: '' });
  const [filter, setFilter] = useState({ namespace: '', name: '' });
  const list = usePaged(
    '/config/v1/configfilegroups',
    { namespace: filter.namespace || undefined, name: filter.name ? `${filter.name}*` : undefined },
    batch('configFileGroups'),
  );
  const [editing, setEditing] = useState<Json | null>(null);
  const [deleting, setDeleting] = useState<Json | null>(null);
  return (
    <Page
      title={t('Configuration')}
      description={t('Configuration groups hold files that clients read and watch.')}
      actions={<CreateButton onClick={() => setEditing({ namespace: 'default' })} />}
    >
      <Card>
        <form
          onSubmit={(e) => {
            e.preventDefault();
            setFilter(draft);
            list.resetPage();
          }}
        >
          <Group mb="sm">
            <TextInput aria-label={t('Filter by namespace')} placeholder={t('Namespace')} value={draft.namespace} onChange={(e) => setDraft({ ...draft, namespace: e.currentTarget.value })} w={180} />
            <TextInput aria-label={t('Filter by group name')} placeholder={t('Group name (prefix)')} value={draft.name} onChange={(e) => setDraft({ ...draft, name: e.currentTarget.value })} w={220} />
            <Button type="submit" variant="light" leftSection={<IconSearch size={16} aria-hidden="true" />}>
              {t('Search')}
            </Button>
          </Group>
        </form>
        <DataTable
          caption={t('Configuration groups')}
          rows={list.rows}
          loading={list.loading}
          error={list.error}
          rowKey={(g) => `${g.namespace}/${g.name}`}
          columns={[
            {
              header: t('Name'),
              cell: (g) => (
                <Anchor component={Link} to={`/filegroup-detail?namespace=${encodeURIComponent(g.namespace)}&group=${encodeURIComponent(g.name)}`} fw={500}>
                  {g.name}
                </Anchor>
              ),
            },
            { header: t('Namespace'), cell: (g) => g.namespace },
            { header: t('Files'), cell: (g) => g.fileCount ?? 0 },
            { header: t('Description'), cell: (g) => g.comment || '-' },
            { header: t('Updated'), cell: (g) => formatTime(g.modifyTime) },
            {
              header: t('Actions'),
              cell: (g) => (
                <RowActions onEdit={() => setEditing(g)} onDelete={() => setDeleting(g)} />
              ),
            },
          ]}
        />
        <Pager total={list.total} offset={list.offset} limit={list.limit} onChange={list.setPage} />
      </Card>
      {editing && <GroupDialog group={editing} onClose={() => setEditing(null)} onSaved={list.reload} />}
      <ConfirmDelete
        target={deleting ? `${deleting.namespace}/${deleting.name}` : null}
        onClose={() => setDeleting(null)}
        onConfirm={async () => {
          await del('/config/v1/configfilegroups', { namespace: deleting.namespace, group: deleting.name });
          await list.reload();
        }}
      />
    </Page>
  );
}

function GroupDialog({ group, onClose, onSaved }: { group: Json; onClose: () => void; onSaved: () => void }) {
  const t = useT();
  const creating = !group.name;
  const [form, setForm] = useState({ name: group.name ?? '', namespace: group.namespace ?? 'default', comment: group.comment ?? '' });
  const { saving, error, submit } = useSubmit();
  return (
    <FormDialog
      opened
      title={creating ? t('Create configuration group') : t('Edit configuration group')}
      onClose={onClose}
      saving={saving}
      error={error}
      onSave={() =>
        submit(async () => {
        if (!form.name.trim() || !form.namespace.trim()) throw new Error(t('Name and namespace are required'));
        const body = { name: form.name.trim(), namespace: form.namespace.trim(), comment: form.comment };
        if (creating) await post('/config/v1/configfilegroups', body);
        else await put('/config/v1/configfilegroups', body);
        onSaved();
        onClose();
        })
      }
    >
      <TextInput label={t('Name')} value={form.name} onChange={(e) => setForm({ ...form, name: e.currentTarget.value })} disabled={!creating} data-autofocus />
      <NamespaceField value={form.namespace} onChange={(v) => setForm({ ...form, namespace: v })} disabled={!creating} />
      <Textarea label={t('Description')} value={form.comment} onChange={(e) => setForm({ ...form, comment: e.currentTarget.value })} autosize minRows={2} />
    </FormDialog>
  );
}

import { useState } from 'react';
import { Anchor, Group, TextInput, Textarea } from '@mantine/core';
import { IconSearch } from '@tabler/icons-react';
import { Link } from 'react-router';
import { post, put, type Json } from '../api';
import { batch, usePaged } from '../hooks';
import { useT } from '../i18n';
import { Card, ConfirmDelete, CreateButton, DataTable, FormDialog, Page, Pager, formatTime, RowActions, useSubmit } from '../components/kit';

export function NamespacesPage() {
  const t = useT();
  const [search, setSearch] = useState('');
  const [name, setName] = useState('');
  const list = usePaged('/naming/v1/namespaces', { name: name ? `${name}*` : undefined }, batch('namespaces'));
  const [editing, setEditing] = useState<Json | null>(null);
  const [deleting, setDeleting] = useState<Json | null>(null);
  return (
    <Page
      title={t('Namespaces')}
      description={t('Namespaces isolate services and configuration from each other.')}
      actions={<CreateButton onClick={() => setEditing({})} />}
    >
      <Card>
        <Group mb="sm">
          <TextInput
            aria-label={t('Search by name')}
            placeholder={t('Search by name')}
            leftSection={<IconSearch size={16} aria-hidden="true" />}
            value={search}
            onChange={(e) => setSearch(e.currentTarget.value)}
            onKeyDown={(e) => {
              if (e.key === 'Enter') {
                setName(search.trim());
                list.resetPage();
              }
            }}
            w={280}
          />
        </Group>
        <DataTable
          caption={t('Namespaces')}
          rows={list.rows}
          loading={list.loading}
          error={list.error}
          rowKey={(ns) => ns.name}
          columns={[
            {
              header: t('Name'),
              cell: (ns) => (
                <Anchor component={Link} to={`/service?namespace=${encodeURIComponent(ns.name)}`} fw={500}>
                  {ns.name}
                </Anchor>
              ),
            },
            { header: t('Description'), cell: (ns) => ns.comment || '-' },
            { header: t('Services'), cell: (ns) => ns.total_service_count ?? 0 },
            {
              header: t('Healthy / total instances'),
              cell: (ns) => `${ns.total_health_instance_count ?? 0} / ${ns.total_instance_count ?? 0}`,
            },
            { header: t('Owners'), cell: (ns) => ns.owners || '-' },
            { header: t('Updated'), cell: (ns) => formatTime(ns.mtime) },
            {
              header: t('Actions'),
              cell: (ns) => (
                <RowActions onEdit={() => setEditing(ns)} onDelete={() => setDeleting(ns)} />
              ),
            },
          ]}
        />
        <Pager total={list.total} offset={list.offset} limit={list.limit} onChange={list.setPage} />
      </Card>
      {editing && <NamespaceDialog namespace={editing} onClose={() => setEditing(null)} onSaved={list.reload} />}
      <ConfirmDelete
        target={deleting?.name ?? null}
        onClose={() => setDeleting(null)}
        onConfirm={async () => {
          await post('/naming/v1/namespaces/delete', [{ name: deleting.name }]);
          await list.reload();
        }}
      />
    </Page>
  );
}

function NamespaceDialog({ namespace, onClose, onSaved }: { namespace: Json; onClose: () => void; onSaved: () => void }) {
  const t = useT();
  const creating = !namespace.name;
  const [name, setName] = useState<string>(namespace.name ?? '');
  const [comment, setComment] = useState<string>(namespace.comment ?? '');
  const { saving, error, submit } = useSubmit();
  return (
    <FormDialog
      opened
      title={creating ? t('Create namespace') : t('Edit namespace')}
      onClose={onClose}
      saving={saving}
      error={error}
      onSave={() =>
        submit(async () => {
          if (!name.trim()) throw new Error(t('Name is required'));
          const body = [{ name: name.trim(), comment }];
          if (creating) await post('/naming/v1/namespaces', body);
          else await put('/naming/v1/namespaces', body);
          onSaved();
          onClose();
        })
      }
    >
      <TextInput label={t('Name')} value={name} onChange={(e) => setName(e.currentTarget.value)} disabled={!creating} data-autofocus />
      <Textarea label={t('Description')} value={comment} onChange={(e) => setComment(e.currentTarget.value)} autosize minRows={2} />
    </FormDialog>
  );
}

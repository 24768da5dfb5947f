import { useState } from 'react';
import { Anchor, Badge, Button, Group, TextInput, Textarea } from '@mantine/core';
import { IconSearch } from '@tabler/icons-react';
import { Link, useSearchParams } from 'react-router';
import { post, put, type Json } from '../api';
import { batch, usePaged } from '../hooks';
import { useT } from '../i18n';
import { Card, ConfirmDelete, CreateButton, DataTable, FormDialog, Page, Pager, formatTime, RowActions, useSubmit } from '../components/kit';
import { MetadataField, MetadataTags, NamespaceField, metadataText, parseMetadata } from '../components/fields';

export function HealthCount({ healthy, total }: { healthy: number; total: number }) {
  const color = total === 0 ? 'gray' : healthy === total ? 'green' : healthy === 0 ? 'red' : 'orange';
  return (
    <Badge variant="light" color={color} radius="sm" tt="none">
      {healthy} / {total}
    </Badge>
  );
}

export function ServicesPage() {
  const t = useT();
  const [params, setParams] = useSearchParams();
  const namespace = params.get('namespace') ?? '';
  const name = params.get('name') ?? '';
  const meta = params.get('meta') ?? '';
  const [draft, setDraft] = useState({ namespace, name, meta });
  const [metaKey, metaValue] = meta.includes('=') ? meta.split('=', 2) : [meta, ''];
  const list = usePaged(
    '/naming/v1/services',
    {
      namespace: namespace || undefined,
      name: name ? (name.endsWith('*') ? name : `${name}*`) : undefined,
      keys: metaKey || undefined,
      values: metaKey ? metaValue : undefined,
    },
    batch('services'),
  );
  const [editing, setEditing] = useState<Json | null>(null);
  const [deleting, setDeleting] = useState<Json | null>(null);
  const apply = () => {
    const next: Record<string, string> = {};
    if (draft.namespace) next.namespace = draft.namespace;
    if (draft.name) next.name = draft.name;
    if (draft.meta) next.meta = draft.meta;
    setParams(next);
    list.resetPage();
  };
  return (
    <Page
      title={t('Services')}
      description={t('Registered services with their healthy and total instance counts.')}
      actions={<CreateButton onClick={() => setEditing({ namespace: namespace || 'default' })} />}
    >
      <Card>
        <form
          onSubmit={(e) => {
            e.preventDefault();
            apply();
          }}
        >
          <Group mb="sm" align="flex-end">
            <TextInput aria-label={t('Filter by namespace')} placeholder={t('Namespace')} value={draft.namespace} onChange={(e) => setDraft({ ...draft, namespace: e.currentTarget.value })} w={180} />
            <TextInput aria-label={t('Filter by service name')} placeholder={t('Service name (prefix)')} value={draft.name} onChange={(e) => setDraft({ ...draft, name: e.currentTarget.value })} w={220} />
            <TextInput aria-label={t('Filter by metadata')} placeholder={t('Metadata key=value')} value={draft.meta} onChange={(e) => setDraft({ ...draft, meta: e.currentTarget.value })} w={200} />
            <Button type="submit" variant="light" leftSection={<IconSearch size={16} aria-hidden="true" />}>
              {t('Search')}
            </Button>
          </Group>
        </form>
        <DataTable
          caption={t('Services')}
          rows={list.rows}
          loading={list.loading}
          error={list.error}
          rowKey={(s) => `${s.namespace}/${s.name}`}
          columns={[
            {
              header: t('Name'),
              cell: (s) => (
                <Anchor component={Link} to={`/service-detail?namespace=${encodeURIComponent(s.namespace)}&name=${encodeURIComponent(s.name)}`} fw={500}>
                  {s.name}
                </Anchor>
              ),
            },
            { header: t('Namespace'), cell: (s) => s.namespace },
            {
              header: t('Healthy / total instances'),
              cell: (s) => <HealthCount healthy={s.healthy_instance_count ?? 0} total={s.total_instance_count ?? 0} />,
            },
            { header: t('Metadata'), cell: (s) => <MetadataTags metadata={s.metadata} /> },
            { header: t('Business'), cell: (s) => s.business || '-' },
            { header: t('Updated'), cell: (s) => formatTime(s.mtime) },
            {
              header: t('Actions'),
              cell: (s) => (
                <RowActions onEdit={() => setEditing(s)} onDelete={() => setDeleting(s)} />
              ),
            },
          ]}
        />
        <Pager total={list.total} offset={list.offset} limit={list.limit} onChange={list.setPage} />
      </Card>
      {editing && <ServiceDialog service={editing} onClose={() => setEditing(null)} onSaved={list.reload} />}
      <ConfirmDelete
        target={deleting ? `${deleting.namespace}/${deleting.name}` : null}
        onClose={() => setDeleting(null)}
        onConfirm={async () => {
          await post('/naming/v1/services/delete', [{ name: deleting.name, namespace: deleting.namespace }]);
          await list.reload();
        }}
      />
    </Page>
  );
}

function ServiceDialog({ service, onClose, onSaved }: { service: Json; onClose: () => void; onSaved: () => void }) {
  const t = useT();
  const creating = !service.name;
  const [form, setForm] = useState({
    name: service.name ?? '',
    namespace: service.namespace ?? 'default',
    comment: service.comment ?? '',
    business: service.business ?? '',
    department: service.department ?? '',
    metadata: metadataText(service.metadata),
  });
  const { saving, error, submit } = useSubmit();
  return (
    <FormDialog
      opened
      title={creating ? t('Create service') : t('Edit service')}
      onClose={onClose}
      saving={saving}
      error={error}
      onSave={() =>
        submit(async () => {
        if (!form.name.trim() || !form.namespace.trim()) throw new Error(t('Name and namespace are required'));
        const body = [{
          name: form.name.trim(),
          namespace: form.namespace.trim(),
          comment: form.comment,
          business: form.business,
          department: form.department,
          metadata: parseMetadata(form.metadata),
        }];
        if (creating) await post('/naming/v1/services', body);
        else await put('/naming/v1/services', body);
        onSaved();
        onClose();
        })
      }
    >
      <TextInput label={t('Name')} value={form.name} onChange={(e) => setForm({ ...form, name: e.currentTarget.value })} disabled={!creating} data-autofocus />
      <NamespaceField value={form.namespace} onChange={(v) => setForm({ ...form, namespace: v })} disabled={!creating} />
      <Textarea label={t('Description')} value={form.comment} onChange={(e) => setForm({ ...form, comment: e.currentTarget.value })} autosize minRows={1} />
      <Group grow>
        <TextInput label={t('Business')} value={form.business} onChange={(e) => setForm({ ...form, business: e.currentTarget.value })} />
        <TextInput label={t('Department')} value={form.department} onChange={(e) => setForm({ ...form, department: e.currentTarget.value })} />
      </Group>
      <MetadataField value={form.metadata} onChange={(v) => setForm({ ...form, metadata: v })} />
    </FormDialog>
  );
}

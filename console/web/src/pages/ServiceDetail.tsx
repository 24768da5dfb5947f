import { useState } from 'react';
import { Anchor, Badge, Breadcrumbs, Button, Checkbox, Group, NumberInput, Tabs, Text, TextInput } from '@mantine/core';
import { IconLock, IconLockOpen } from '@tabler/icons-react';
import { useQuery } from '@tanstack/react-query';
import { Link, useSearchParams } from 'react-router';
import { get, post, put, type Json } from '../api';
import { batch, usePaged } from '../hooks';
import { useT } from '../i18n';
import { Card, ConfirmDelete, CreateButton, DataTable, FormDialog, Page, Pager, formatTime, useSubmit, RowActions } from '../components/kit';
import { MetadataField, MetadataTags, metadataText, parseMetadata } from '../components/fields';
import { HealthCount } from './Services';

export function ServiceDetailPage() {
  const t = useT();
  const [params] = useSearchParams();
  const namespace = params.get('namespace') ?? '';
  const name = params.get('name') ?? '';
  const [health, setHealth] = useState('');
  const [host, setHost] = useState('');
  const service = useQuery({
    queryKey: ['/naming/v1/services', 'one', namespace, name],
    queryFn: async () => ((await get('/naming/v1/services', { namespace, name, limit: 1 })).services as Json[])?.[0] ?? null,
  });
  const list = usePaged(
    '/naming/v1/instances',
    { namespace, service: name, healthy: health || undefined, host: host || undefined },
    batch('instances'),
  );
  const ids = list.rows.map((i) => i.id as string);
  const beats = useQuery({
    queryKey: ['/console/v1/heartbeats', ids],
    queryFn: async () => (await get('/console/v1/heartbeats', { ids: ids.join(',') })).heartbeats as Record<string, number>,
    enabled: ids.length > 0,
    refetchInterval: 5_000,
  });
  const [editing, setEditing] = useState<Json | null>(null);
  const [deleting, setDeleting] = useState<Json | null>(null);
  const setIsolate = async (instance: Json, isolate: boolean) => {
    await put('/naming/v1/instances', [{ ...instanceKey(instance), isolate }]);
    await list.reload();
  };
  const s = service.data;
  return (
    <Page
      title={name}
      description={t('Namespace {ns}', { ns: namespace })}
      actions={<CreateButton onClick={() => setEditing({})} />}
    >
      <Breadcrumbs mt={-8}>
        <Anchor component={Link} to="/service" size="sm">
          {t('Services')}
        </Anchor>
        <Text size="sm">{name}</Text>
      </Breadcrumbs>
      <Card>
        <Group gap="xl">
          <Info label={t('Healthy / total instances')} value={<HealthCount healthy={s?.healthy_instance_count ?? 0} total={s?.total_instance_count ?? 0} />} />
          <Info label={t('Business')} value={s?.business || '-'} />
          <Info label={t('Department')} value={s?.department || '-'} />
          <Info label={t('Metadata')} value={<MetadataTags metadata={s?.metadata} />} />
          <Info label={t('Revision')} value={<span className="pc-mono">{s?.revision ?? '-'}</span>} />
          <Info label={t('Updated')} value={formatTime(s?.mtime)} />
        </Group>
      </Card>
      <Card>
        <Tabs defaultValue="instances">
          <Tabs.List mb="sm">
            <Tabs.Tab value="instances">{t('Instances')}</Tabs.Tab>
          </Tabs.List>
        </Tabs>
        <Group mb="sm">
          <TextInput aria-label={t('Filter by host')} placeholder={t('Host')} value={host} onChange={(e) => setHost(e.currentTarget.value)} w={200} />
          <Button.Group>
            {[
              ['', t('All')],
              ['true', t('Healthy')],
              ['false', t('Unhealthy')],
            ].map(([value, label]) => (
              <Button key={value} size="xs" variant={health === value ? 'filled' : 'default'} onClick={() => setHealth(value)}>
                {label}
              </Button>
            ))}
          </Button.Group>
        </Group>
        <DataTable
          caption={t('Instances')}
          rows={list.rows}
          loading={list.loading}
          error={list.error}
          rowKey={(i) => i.id}
          columns={[
            { header: t('Address'), cell: (i) => <span className="pc-mono">{`${i.host}:${i.port}`}</span> },
            {
              header: t('Health'),
              cell: (i) => (
                <Badge variant="dot" color={i.healthy ? 'green' : 'red'} tt="none">
                  {i.healthy ? t('Healthy') : t('Unhealthy')}
                </Badge>
              ),
            },
            {
              header: t('Isolation'),
              cell: (i) =>
                i.isolate ? (
                  <Badge color="orange" variant="light" tt="none">
                    {t('Isolated')}
                  </Badge>
                ) : (
                  <Text size="sm" c="dimmed">
                    {t('Not isolated')}
                  </Text>
                ),
            },
            { header: t('Weight'), cell: (i) => i.weight },
            { header: t('Protocol / version'), cell: (i) => [i.protocol, i.version].filter(Boolean).join(' / ') || '-' },
            { header: t('Metadata'), cell: (i) => <MetadataTags metadata={i.metadata} /> },
            {
              header: t('Last heartbeat'),
              cell: (i) =>
                i.enableHealthCheck ? formatTime(beats.data?.[i.id] ?? null) : <Text size="sm" c="dimmed">{t('No health check')}</Text>,
            },
            {
              header: t('Actions'),
              cell: (i) => (
                <RowActions onEdit={() => setEditing(i)} onDelete={() => setDeleting(i)}>
                  <Button
                    size="compact-sm"
                    variant="subtle"
                    color="orange"
                    leftSection={i.isolate ? <IconLockOpen size={14} aria-hidden="true" /> : <IconLock size={14} aria-hidden="true" />}
                    onClick={() => void setIsolate(i, !i.isolate)}
                  >
                    {i.isolate ? t('Unisolate') : t('Isolate')}
                  </Button>
                </RowActions>
              ),
            },
          ]}
        />
        <Pager total={list.total} offset={list.offset} limit={list.limit} onChange={list.setPage} />
      </Card>
      {editing && (
        <InstanceDialog
          instance={editing}
          namespace={namespace}
          service={name}
          onClose={() => setEditing(null)}
          onSaved={() => {
            void list.reload();
            void service.refetch();
          }}
        />
      )}
      <ConfirmDelete
        target={deleting ? `${deleting.host}:${deleting.port}` : null}
        onClose={() => setDeleting(null)}
        onConfirm={async () => {
          await post('/naming/v1/instances/delete', [instanceKey(deleting)]);
          await list.reload();
          await service.refetch();
        }}
      />
    </Page>
  );
}

function instanceKey(i: Json) {
  return { id: i.id, service: i.service, namespace: i.namespace, host: i.host, port: i.port };
}

function Info({ label, value }: { label: string; value: React.ReactNode }) {
  return (
    <div>
      <Text size="xs" c="dimmed" mb={2}>
        {label}
      </Text>
      <div style={{ fontSize: 14 }}>{value}</div>
    </div>
  );
}

function InstanceDialog({ instance, namespace, service, onClose, onSaved }: {
  instance: Json;
  namespace: string;
  service: string;
  onClose: () => void;
  onSaved: () => void;
}) {
  const t = useT();
  const creating = !instance.id;
  const [form, setForm] = useState({
    host: instance.host ?? '',
    port: instance.port ?? 8080,
    weight: instance.weight ?? 100,
    protocol: instance.protocol ?? '',
    version: instance.version ?? '',
    healthy: instance.healthy ?? true,
    isolate: instance.isolate ?? false,
    check: instance.enableHealthCheck ?? false,
    ttl: instance.healthCheck?.heartbeat?.ttl ?? 5,
    metadata: metadataText(instance.metadata),
  });
  const { saving, error, submit } = useSubmit();
  return (
    <FormDialog
      opened
      title={creating ? t('Add instance') : t('Edit instance')}
      onClose={onClose}
      saving={saving}
      error={error}
      onSave={() =>
        submit(async () => {
        if (!form.host.trim()) throw new Error(t('Host is required'));
        const body: Json = {
          ...(creating ? {} : { id: instance.id }),
          namespace,
          service,
          host: form.host.trim(),
          port: Number(form.port),
          weight: Number(form.weight),
          protocol: form.protocol,
          version: form.version,
          healthy: form.healthy,
          isolate: form.isolate,
          enable_health_check: form.check,
          health_check: form.check ? { type: 1, heartbeat: { ttl: Number(form.ttl) } } : null,
          metadata: parseMetadata(form.metadata),
        };
        if (creating) await post('/naming/v1/instances', [body]);
        else await put('/naming/v1/instances', [body]);
        onSaved();
        onClose();
        })
      }
    >
      <Group grow>
        <TextInput label={t('Host')} value={form.host} onChange={(e) => setForm({ ...form, host: e.currentTarget.value })} disabled={!creating} data-autofocus />
        <NumberInput label={t('Port')} value={form.port} onChange={(v) => setForm({ ...form, port: Number(v) })} min={1} max={65535} disabled={!creating} />
      </Group>
      <Group grow>
        <NumberInput label={t('Weight')} value={form.weight} onChange={(v) => setForm({ ...form, weight: Number(v) })} min={0} max={10000} />
        <TextInput label={t('Protocol')} value={form.protocol} onChange={(e) => setForm({ ...form, protocol: e.currentTarget.value })} />
        <TextInput label={t('Version')} value={form.version} onChange={(e) => setForm({ ...form, version: e.currentTarget.value })} />
      </Group>
      <Group>
        <Checkbox label={t('Healthy')} checked={form.healthy} onChange={(e) => setForm({ ...form, healthy: e.currentTarget.checked })} />
        <Checkbox label={t('Isolated')} checked={form.isolate} onChange={(e) => setForm({ ...form, isolate: e.currentTarget.checked })} />
        <Checkbox label={t('Heartbeat health check')} checked={form.check} onChange={(e) => setForm({ ...form, check: e.currentTarget.checked })} />
      </Group>
      {form.check && (
        <NumberInput label={t('Heartbeat TTL (seconds)')} value={form.ttl} onChange={(v) => setForm({ ...form, ttl: Number(v) })} min={1} max={60} w={200} />
      )}
      <MetadataField value={form.metadata} onChange={(v) => setForm({ ...form, metadata: v })} />
    </FormDialog>
  );
}

import { useState } from 'react';
import { Badge, Button, Group, Tabs, Text, TextInput } from '@mantine/core';
import { IconPlayerPause, IconPlayerPlay } from '@tabler/icons-react';
import { useNavigate } from 'react-router';
import { post, put, type Json } from '../api';
import { batch, usePaged } from '../hooks';
import { useT } from '../i18n';
import { Card, ConfirmDelete, CreateButton, DataTable, FormDialog, Page, Pager, formatTime, useSubmit, RowActions } from '../components/kit';
import { NamespaceField } from '../components/fields';
import { CodeEditor } from '../components/CodeEditor';
import { RULE_KINDS, type RuleKind, type RuleKindSpec } from './rule-kinds';

export function RulesPage({ kind }: { kind: RuleKind }) {
  const t = useT();
  const navigate = useNavigate();
  const spec = RULE_KINDS.find((k) => k.kind === kind)!;
  const [name, setName] = useState('');
  const list = usePaged(spec.path, { name: name ? `${name}*` : undefined }, batch(spec.listField));
  const [editing, setEditing] = useState<Json | null>(null);
  const [deleting, setDeleting] = useState<Json | null>(null);
  const [error, setError] = useState<unknown>(null);
  const toggle = async (rule: Json, enable: boolean) => {
    setError(null);
    try {
      await put(`${spec.path}/enable`, [spec.enableBody!(rule, enable)]);
      await list.reload();
    } catch (e) {
      setError(e);
    }
  };
  return (
    <Page
      title={t('Rules')}
      description={t('Routing, rate-limit, circuit-breaker and fault-detection rules, applied by the SDKs.')}
      actions={<CreateButton onClick={() => setEditing({})} />}
    >
      <Card>
        <Tabs value={kind} onChange={(value) => navigate(RULE_KINDS.find((k) => k.kind === value)!.route)}>
          <Tabs.List mb="md">
            {RULE_KINDS.map((k) => (
              <Tabs.Tab key={k.kind} value={k.kind}>
                {t(k.label)}
              </Tabs.Tab>
            ))}
          </Tabs.List>
        </Tabs>
        <Group mb="sm">
          <TextInput aria-label={t('Search by name')} placeholder={t('Search by name')} value={name} onChange={(e) => setName(e.currentTarget.value)} w={260} />
        </Group>
        <DataTable
          caption={t(spec.label)}
          rows={list.rows}
          loading={list.loading}
          error={error ?? list.error}
          rowKey={(r) => r.id}
          columns={[
            { header: t('Name'), cell: (r) => <Text fw={500} size="sm">{r.name}</Text> },
            { header: t('Namespace'), cell: (r) => r.namespace || '-' },
            { header: t('Target service'), cell: (r) => spec.target(r) },
            {
              header: t('Status'),
              cell: (r) => {
                const on = spec.enabled(r);
                if (on === null) return <Text size="sm" c="dimmed">-</Text>;
                return (
                  <Badge variant="dot" color={on ? 'green' : 'gray'} tt="none">
                    {on ? t('Enabled') : t('Disabled')}
                  </Badge>
                );
              },
            },
            { header: t('Description'), cell: (r) => r.description || '-' },
            { header: t('Updated'), cell: (r) => formatTime(r.mtime ?? r.modifyTime ?? r.ctime) },
            {
              header: t('Actions'),
              cell: (r) => {
                const on = spec.enabled(r);
                return (
                  <RowActions onEdit={() => setEditing(r)} onDelete={() => setDeleting(r)}>
                    {on !== null && (
                      <Button
                        size="compact-sm"
                        variant="subtle"
                        color={on ? 'orange' : 'green'}
                        leftSection={on ? <IconPlayerPause size={14} aria-hidden="true" /> : <IconPlayerPlay size={14} aria-hidden="true" />}
                        onClick={() => void toggle(r, !on)}
                      >
                        {on ? t('Disable') : t('Enable')}
                      </Button>
                    )}
                  </RowActions>
                );
              },
            },
          ]}
        />
        <Pager total={list.total} offset={list.offset} limit={list.limit} onChange={list.setPage} />
      </Card>
      {editing && <RuleDialog spec={spec} rule={editing} onClose={() => setEditing(null)} onSaved={list.reload} />}
      <ConfirmDelete
        target={deleting?.name ?? null}
        onClose={() => setDeleting(null)}
        onConfirm={async () => {
          await post(`${spec.path}/delete`, [{ id: deleting.id }]);
          await list.reload();
        }}
      />
    </Page>
  );
}

/** Strips what the server sets itself, leaving the editable body. */
function editable(rule: Json): Json {
  const { id: _id, name: _n, namespace: _ns, ctime: _c, mtime: _m, etime: _e, revision: _r, ...rest } = rule;
  void [_id, _n, _ns, _c, _m, _e, _r];
  return rest;
}

function RuleDialog({ spec, rule, onClose, onSaved }: { spec: RuleKindSpec; rule: Json; onClose: () => void; onSaved: () => void }) {
  const t = useT();
  const creating = !rule.id;
  const [name, setName] = useState<string>(rule.name ?? '');
  const [namespace, setNamespace] = useState<string>(rule.namespace ?? 'default');
  const [text, setText] = useState(() => JSON.stringify(creating ? spec.template : editable(rule), null, 2));
  const { saving, error, submit } = useSubmit();
  let parseError = '';
  try {
    const parsed = JSON.parse(text);
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) parseError = t('The rule must be a JSON object');
  } catch (e) {
    parseError = (e as Error).message;
  }
  return (
    <FormDialog
      opened
      size="xl"
      title={creating ? t('Create {kind} rule', { kind: t(spec.label).toLowerCase() }) : t('Edit {kind} rule', { kind: t(spec.label).toLowerCase() })}
      onClose={onClose}
      saving={saving}
      error={error}
      onSave={() =>
        submit(async () => {
          if (!name.trim()) throw new Error(t('Name is required'));
          if (parseError) throw new Error(t('Invalid JSON: {why}', { why: parseError }));
          const body = { ...JSON.parse(text), name: name.trim(), namespace: namespace.trim(), ...(creating ? {} : { id: rule.id }) };
          if (creating) await post(spec.path, [body]);
          else await put(spec.path, [body]);
          onSaved();
          onClose();
        })
      }
    >
      <Group grow>
        <TextInput label={t('Name')} value={name} onChange={(e) => setName(e.currentTarget.value)} data-autofocus />
        <NamespaceField value={namespace} onChange={setNamespace} disabled={!creating} />
      </Group>
      <div>
        <Text size="sm" fw={500} mb={4}>
          {t('Rule (JSON)')}
        </Text>
        <CodeEditor language="json" label={t('Rule (JSON)')} value={text} onChange={setText} minHeight={320} />
        {parseError && (
          <Text size="xs" c="red" mt={4}>
            {t('Invalid JSON: {why}', { why: parseError })}
          </Text>
        )}
      </div>
    </FormDialog>
  );
}

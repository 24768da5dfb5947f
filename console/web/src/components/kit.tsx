// Building blocks every list page shares: a titled card, a real table with column headers and
// server-side paging, a form dialog confirmed with "Save", and a delete confirmation.
import { useState, type ReactNode } from 'react';
import { Alert, Box, Button, Group, Modal, Pagination, Select, Stack, Table, Text, Title } from '@mantine/core';
import { IconEdit, IconPlus, IconTrash } from '@tabler/icons-react';
import { useT } from '../i18n';

export function Page({ title, description, actions, children }: {
  title: string;
  description?: string;
  actions?: ReactNode;
  children: ReactNode;
}) {
  return (
    <Stack gap="md">
      <Group justify="space-between" align="flex-end">
        <div>
          <Title order={2} fz={22} fw={600}>
            {title}
          </Title>
          {description && (
            <Text size="sm" c="dimmed" mt={4}>
              {description}
            </Text>
          )}
        </div>
        {actions}
      </Group>
      {children}
    </Stack>
  );
}

export function Card({ children, p = 'md' }: { children: ReactNode; p?: string | number }) {
  return (
    <Box className="pc-card" p={p}>
      {children}
    </Box>
  );
}

export function CreateButton({ onClick, label }: { onClick: () => void; label?: string }) {
  const t = useT();
  return (
    <Button leftSection={<IconPlus size={16} aria-hidden="true" />} onClick={onClick}>
      {label ?? t('Create')}
    </Button>
  );
}

export interface Column<T> {
  header: string;
  cell: (row: T) => ReactNode;
  width?: number | string;
}

export function DataTable<T>({ columns, rows, rowKey, loading, error, caption }: {
  columns: Column<T>[];
  rows: T[];
  rowKey: (row: T) => string;
  loading?: boolean;
  error?: unknown;
  caption?: string;
}) {
  const t = useT();
  return (
    <Box style={{ overflowX: 'auto' }}>
      <Table className="pc-table" highlightOnHover verticalSpacing={8} horizontalSpacing="md" striped={false}>
        {caption && <caption className="pc-visually-hidden">{caption}</caption>}
        <Table.Thead>
          <Table.Tr>
            {columns.map((c) => (
              <Table.Th key={c.header} scope="col" style={{ width: c.width }}>
                {c.header}
              </Table.Th>
            ))}
          </Table.Tr>
        </Table.Thead>
        <Table.Tbody>
          {rows.map((row) => (
            <Table.Tr key={rowKey(row)}>
              {columns.map((c) => (
                <Table.Td key={c.header}>{c.cell(row)}</Table.Td>
              ))}
            </Table.Tr>
          ))}
          {rows.length === 0 && (
            <Table.Tr>
              <Table.Td colSpan={columns.length}>
                <Text c="dimmed" size="sm" ta="center" py="lg">
                  {loading ? t('Loading…') : t('No data')}
                </Text>
              </Table.Td>
            </Table.Tr>
          )}
        </Table.Tbody>
      </Table>
      {error ? <ErrorNote error={error} /> : null}
    </Box>
  );
}

export function ErrorNote({ error }: { error: unknown }) {
  if (!error) return null;
  const text = error instanceof Error ? error.message : String(error);
  return (
    <Alert color="red" variant="light" mt="sm">
      {text}
    </Alert>
  );
}

export function Pager({ total, offset, limit, onChange }: {
  total: number;
  offset: number;
  limit: number;
  onChange: (offset: number, limit: number) => void;
}) {
  const t = useT();
  const pages = Math.max(1, Math.ceil(total / limit));
  return (
    <Group justify="space-between" mt="sm">
      <Text size="sm" c="dimmed">
        {t('{n} in total', { n: total })}
      </Text>
      <Group gap="sm">
        <Select
          aria-label={t('Rows per page')}
          size="xs"
          w={90}
          value={String(limit)}
          data={['10', '20', '50', '100']}
          onChange={(v) => onChange(0, Number(v ?? limit))}
          allowDeselect={false}
        />
        <Pagination
          size="sm"
          total={pages}
          value={Math.floor(offset / limit) + 1}
          onChange={(page) => onChange((page - 1) * limit, limit)}
          getControlProps={(control) => ({ 'aria-label': t(control === 'previous' ? 'Previous page' : control === 'next' ? 'Next page' : control === 'first' ? 'First page' : 'Last page') })}
        />
      </Group>
    </Group>
  );
}

/** A dialog holding a form; "Save" submits it. */
export function FormDialog({ opened, title, onClose, onSave, children, size = 'md', saving, error }: {
  opened: boolean;
  title: string;
  onClose: () => void;
  onSave: () => void;
  children: ReactNode;
  size?: string;
  saving?: boolean;
  error?: unknown;
}) {
  const t = useT();
  return (
    <Modal opened={opened} onClose={onClose} title={title} size={size} centered closeButtonProps={{ 'aria-label': t('Close') }}>
      <form
        onSubmit={(e) => {
          e.preventDefault();
          onSave();
        }}
      >
        <Stack gap="sm">
          {children}
          {error ? <ErrorNote error={error} /> : null}
          <Group justify="flex-end" mt="sm">
            <Button variant="default" onClick={onClose}>
              {t('Cancel')}
            </Button>
            <Button type="submit" loading={saving}>
              {t('Save')}
            </Button>
          </Group>
        </Stack>
      </form>
    </Modal>
  );
}

/** Asks before deleting; the confirming button is named "Delete". */
export function ConfirmDelete({ target, onClose, onConfirm }: {
  target: string | null;
  onClose: () => void;
  onConfirm: () => Promise<unknown>;
}) {
  const t = useT();
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  return (
    <Modal
      opened={target !== null}
      onClose={() => {
        setError(null);
        onClose();
      }}
      title={t('Confirm deletion')}
      centered
      closeButtonProps={{ 'aria-label': t('Close') }}
    >
      <Text size="sm">{t('Delete {name}? This cannot be undone.', { name: target ?? '' })}</Text>
      {error ? <ErrorNote error={error} /> : null}
      <Group justify="flex-end" mt="lg">
        <Button variant="default" onClick={onClose}>
          {t('Cancel')}
        </Button>
        <Button
          color="red"
          loading={busy}
          onClick={async () => {
            setBusy(true);
            setError(null);
            try {
              await onConfirm();
              onClose();
            } catch (e) {
              setError(e);
            } finally {
              setBusy(false);
            }
          }}
        >
          {t('Delete')}
        </Button>
      </Group>
    </Modal>
  );
}

export function formatTime(value?: string | number | null): string {
  if (value === undefined || value === null || value === '') return '-';
  const date = typeof value === 'number' ? new Date(value) : new Date(String(value).replace(' ', 'T'));
  if (Number.isNaN(date.getTime())) return String(value);
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())} ${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}`;
}

/** Runs a dialog's save: `saving` while it runs, `error` if it throws. */
export function useSubmit() {
  const [saving, setSaving] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const submit = async (action: () => Promise<void>) => {
    setSaving(true);
    setError(null);
    try {
      await action();
    } catch (e) {
      setError(e);
    } finally {
      setSaving(false);
    }
  };
  return { saving, error, setError, submit };
}

/** A row's "Edit" and "Delete" buttons, plus any others given as children. */
export function RowActions({ onEdit, onDelete, children }: { onEdit?: () => void; onDelete?: () => void; children?: ReactNode }) {
  const t = useT();
  return (
    <Group gap={4} wrap="nowrap">
      {onEdit && (
        <Button size="compact-sm" variant="subtle" leftSection={<IconEdit size={14} aria-hidden="true" />} onClick={onEdit}>
          {t('Edit')}
        </Button>
      )}
      {children}
      {onDelete && (
        <Button size="compact-sm" variant="subtle" color="red" leftSection={<IconTrash size={14} aria-hidden="true" />} onClick={onDelete}>
          {t('Delete')}
        </Button>
      )}
    </Group>
  );
}

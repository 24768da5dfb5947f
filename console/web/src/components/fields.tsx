// Inputs shared by several dialogs: a namespace picker that still accepts typing, and a
// metadata editor written as one `key=value` per line.
import { Autocomplete, Textarea } from '@mantine/core';
import { useQuery } from '@tanstack/react-query';
import { get, type Json } from '../api';
import { useT } from '../i18n';

export function useNamespaceNames(): string[] {
  const query = useQuery({
    queryKey: ['/naming/v1/namespaces', 'names'],
    queryFn: async () => ((await get('/naming/v1/namespaces', { limit: 100 })).namespaces as Json[]).map((n) => n.name as string),
    staleTime: 30_000,
  });
  return query.data ?? [];
}

export function NamespaceField({ value, onChange, disabled, label }: {
  value: string;
  onChange: (value: string) => void;
  disabled?: boolean;
  label?: string;
}) {
  const t = useT();
  const names = useNamespaceNames();
  return (
    <Autocomplete
      label={label ?? t('Namespace')}
      data={names}
      value={value}
      onChange={onChange}
      disabled={disabled}
      comboboxProps={{ withinPortal: true }}
    />
  );
}

export function parseMetadata(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const trimmed = line.trim();
    if (!trimmed) continue;
    const at = trimmed.indexOf('=');
    if (at <= 0) throw new Error(`metadata line "${trimmed}" is not key=value`);
    out[trimmed.slice(0, at).trim()] = trimmed.slice(at + 1).trim();
  }
  return out;
}

export function metadataText(metadata?: Record<string, string> | null): string {
  return Object.entries(metadata ?? {})
    .map(([k, v]) => `${k}=${v}`)
    .join('\n');
}

export function MetadataField({ value, onChange }: { value: string; onChange: (value: string) => void }) {
  const t = useT();
  return (
    <Textarea
      label={t('Metadata')}
      description={t('One key=value per line')}
      value={value}
      onChange={(e) => onChange(e.currentTarget.value)}
      autosize
      minRows={2}
      classNames={{ input: 'pc-mono' }}
    />
  );
}

export function MetadataTags({ metadata }: { metadata?: Record<string, string> | null }) {
  // `internal-*` keys are the server's bookkeeping (such as the last heartbeat of an unhealthy
  // instance); the edit dialog still shows them.
  const entries = Object.entries(metadata ?? {}).filter(([k]) => !k.startsWith('internal-'));
  if (entries.length === 0) return <>-</>;
  return (
    <span style={{ display: 'inline-flex', flexWrap: 'wrap', gap: 4 }}>
      {entries.slice(0, 6).map(([k, v]) => (
        <span key={k} className="pc-tag">
          {k}={v}
        </span>
      ))}
      {entries.length > 6 && <span className="pc-tag">+{entries.length - 6}</span>}
    </span>
  );
}

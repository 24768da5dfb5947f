import { Badge, Group, Stack, Text } from '@mantine/core';
import { useQuery } from '@tanstack/react-query';
import { get, type Json } from '../api';
import { useT } from '../i18n';
import { Card, DataTable, ErrorNote, Page, formatTime } from '../components/kit';

export function ClusterPage() {
  const t = useT();
  const cluster = useQuery({
    queryKey: ['/console/v1/cluster'],
    queryFn: () => get('/console/v1/cluster'),
    refetchInterval: 10_000,
  });
  const nodes: Json[] = cluster.data?.nodes ?? [];
  return (
    <Page title={t('Cluster')} description={t('The server nodes and their state.')}>
      <Card>
        <Group mb="sm" gap="xs">
          <Text size="sm" c="dimmed">
            {t('Mode')}
          </Text>
          <Badge variant="light" tt="none">
            {cluster.data?.mode === 'standalone' ? t('Single node') : (cluster.data?.mode ?? '-')}
          </Badge>
        </Group>
        <DataTable
          caption={t('Nodes')}
          rows={nodes}
          loading={cluster.isLoading}
          rowKey={(n) => n.name}
          columns={[
            { header: t('Node'), cell: (n) => <span className="pc-mono">{n.name}</span> },
            {
              header: t('Role'),
              cell: (n) => (
                <Badge color="blue" variant="light" tt="none" size="sm">
                  {n.role === 'leader' ? t('Leader') : t('Follower')}
                </Badge>
              ),
            },
            {
              header: t('State'),
              cell: (n) => (
                <Badge color={n.state === 'serving' ? 'green' : 'red'} variant="dot" tt="none">
                  {n.state === 'serving' ? t('Serving') : n.state}
                </Badge>
              ),
            },
            { header: t('Version'), cell: (n) => n.version },
            { header: t('Store'), cell: (n) => n.store },
            {
              header: t('Listeners'),
              cell: (n) => (
                <Stack gap={2}>
                  {(n.listeners as Json[]).map((l) => (
                    <Text key={l.name} size="xs" className="pc-mono">
                      {l.name} {l.address}
                    </Text>
                  ))}
                </Stack>
              ),
            },
            { header: t('Started'), cell: (n) => formatTime(n.startedAt) },
          ]}
        />
        <ErrorNote error={cluster.error} />
      </Card>
    </Page>
  );
}

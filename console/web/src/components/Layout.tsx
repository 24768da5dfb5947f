import type { ReactNode } from 'react';
import { Link, useLocation } from 'react-router';
import { Alert, AppShell, Badge, Button, Group, Text, UnstyledButton } from '@mantine/core';
import {
  IconAlertTriangle,
  IconBox,
  IconFileSettings,
  IconLogout,
  IconRoute,
  IconServer2,
  IconStack2,
  IconUsers,
} from '@tabler/icons-react';
import { useT } from '../i18n';
import { LanguageSwitch, Logo } from './brand';
import { useSession } from '../session';

const NAV = [
  { to: '/namespace', label: 'Namespaces', icon: IconBox, match: ['/namespace'] },
  { to: '/service', label: 'Services', icon: IconStack2, match: ['/service', '/service-detail'] },
  { to: '/configuration', label: 'Configuration', icon: IconFileSettings, match: ['/configuration', '/filegroup-detail'] },
  { to: '/custom-route', label: 'Rules', icon: IconRoute, match: ['/custom-route', '/accesslimit', '/circuitBreaker', '/faultDetect'] },
  { to: '/user', label: 'Users', icon: IconUsers, match: ['/user', '/usergroup', '/policy'] },
  { to: '/cluster', label: 'Cluster', icon: IconServer2, match: ['/cluster'] },
];

export function Layout({ children }: { children: ReactNode }) {
  const t = useT();
  const { session, open, logout } = useSession();
  const { pathname } = useLocation();
  return (
    <AppShell header={{ height: 52 }} navbar={{ width: 208, breakpoint: 0 }} padding="lg">
      <AppShell.Header className="pc-header">
        <Group h="100%" px="md" justify="space-between">
          <Group gap={10}>
            <Logo />
            <Text fw={700} size="md" c="white">
              Polaris
            </Text>
            <Text size="sm" c="gray.4">
              {t('Service governance console')}
            </Text>
          </Group>
          <Group gap="sm">
            <LanguageSwitch dark />
            {session?.user && (
              <Badge variant="light" color="gray" radius="sm" tt="none" size="lg">
                {session.user.name}
              </Badge>
            )}
            {session?.authenticated && (
              <Button
                variant="subtle"
                color="gray.2"
                leftSection={<IconLogout size={16} aria-hidden="true" />}
                onClick={() => void logout()}
              >
                {t('Log out')}
              </Button>
            )}
          </Group>
        </Group>
      </AppShell.Header>
      <AppShell.Navbar className="pc-nav" p={8}>
        <nav aria-label={t('Main')}>
          {NAV.map((item) => {
            const active = item.match.some((m) => pathname === m);
            const Icon = item.icon;
            return (
              <UnstyledButton
                key={item.to}
                component={Link}
                to={item.to}
                className="pc-nav-link"
                data-active={active || undefined}
                aria-current={active ? 'page' : undefined}
              >
                <Icon size={18} stroke={1.6} aria-hidden="true" />
                <span>{t(item.label)}</span>
              </UnstyledButton>
            );
          })}
        </nav>
      </AppShell.Navbar>
      <AppShell.Main className="pc-main">
        {open && (
          <Alert
            role="status"
            color="orange"
            variant="light"
            mb="md"
            icon={<IconAlertTriangle aria-hidden="true" />}
            title={t('Console authentication is off')}
          >
            {t('Anyone who can reach this port can read and change everything. Turn on auth.option.consoleOpen to require a login.')}
          </Alert>
        )}
        {children}
      </AppShell.Main>
    </AppShell>
  );
}

import type { ReactNode } from 'react';
import { Link, useLocation } from 'react-router';
import { Alert, AppShell, Badge, Button, Group, Text, UnstyledButton } from '@mantine/core';
import {
  IconAlertTriangle,
  IconBox,
  IconFileSettings,
  IconLanguage,
  IconLogout,
  IconRoute,
  IconServer2,
  IconStack2,
  IconUsers,
} from '@tabler/icons-react';
import { useLang, useT, type Lang } from '../i18n';
import { useSession } from '../session';

const NAV = [
  { to: '/namespace', label: 'Namespaces', icon: IconBox, match: ['/namespace'] },
  { to: '/service', label: 'Services', icon: IconStack2, match: ['/service', '/service-detail'] },
  { to: '/configuration', label: 'Configuration', icon: IconFileSettings, match: ['/configuration', '/filegroup-detail'] },
  { to: '/custom-route', label: 'Rules', icon: IconRoute, match: ['/custom-route', '/accesslimit', '/circuitBreaker', '/faultDetect'] },
  { to: '/user', label: 'Users', icon: IconUsers, match: ['/user', '/usergroup', '/policy'] },
  { to: '/cluster', label: 'Cluster', icon: IconServer2, match: ['/cluster'] },
];

export function Logo() {
  return (
    <svg width="26" height="26" viewBox="0 0 32 32" aria-hidden="true" focusable="false">
      <rect width="32" height="32" rx="7" fill="#1c64f2" />
      <path d="M16 5l2.6 8.4L27 16l-8.4 2.6L16 27l-2.6-8.4L5 16l8.4-2.6z" fill="#fff" />
    </svg>
  );
}

export function LanguageSwitch({ dark }: { dark?: boolean }) {
  const { lang, setLang } = useLang();
  const next: Lang = lang === 'en' ? 'zh' : 'en';
  return (
    <Button
      size="xs"
      variant={dark ? 'subtle' : 'default'}
      color={dark ? 'gray.2' : undefined}
      leftSection={<IconLanguage size={16} aria-hidden="true" />}
      lang={next === 'zh' ? 'zh-CN' : 'en'}
      onClick={() => setLang(next)}
    >
      {next === 'zh' ? '中文' : 'English'}
    </Button>
  );
}

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

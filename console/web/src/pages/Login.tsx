import { useState } from 'react';
import { Alert, Box, Button, Center, Group, Stack, Text, TextInput, Title } from '@mantine/core';
import { IconAlertCircle } from '@tabler/icons-react';
import { ApiError } from '../api';
import { useT } from '../i18n';
import { useSession } from '../session';
import { LanguageSwitch, Logo } from '../components/brand';

/** Codes of a login refused for its name or password (unknown user, wrong password). */
const WRONG_CREDENTIALS = [400312, 400313, 401000, 401001];

export function LoginPage() {
  const t = useT();
  const { login } = useSession();
  const [name, setName] = useState('');
  const [password, setPassword] = useState('');
  const [error, setError] = useState('');
  const [busy, setBusy] = useState(false);
  const submit = async () => {
    setBusy(true);
    setError('');
    try {
      await login(name, password);
    } catch (e) {
      const code = e instanceof ApiError ? e.code : 0;
      const status = e instanceof ApiError ? e.status : 0;
      if (!(e instanceof ApiError) || status >= 500) setError(t('The server cannot be reached: {why}', { why: (e as Error).message }));
      else if (WRONG_CREDENTIALS.includes(code)) setError(t('Wrong username or password.'));
      else setError((e as Error).message);
    } finally {
      setBusy(false);
    }
  };
  return (
    <Box className="pc-login-bg">
      <Group justify="flex-end" p="md">
        <LanguageSwitch dark />
      </Group>
      <Center mih="80vh">
        <Box className="pc-card" p={36} w={400}>
          <form
            onSubmit={(e) => {
              e.preventDefault();
              void submit();
            }}
          >
            <Stack gap="md">
              <Group gap={10}>
                <Logo />
                <Title order={1} fz={22} fw={700}>
                  Polaris
                </Title>
              </Group>
              <Text size="sm" c="dimmed" mt={-8}>
                {t('Sign in to the service governance console')}
              </Text>
              <TextInput
                label={t('Username')}
                autoComplete="username"
                value={name}
                onChange={(e) => setName(e.currentTarget.value)}
                required
                withAsterisk={false}
                autoFocus
              />
              <TextInput
                type="password"
                label={t('Password')}
                autoComplete="current-password"
                value={password}
                onChange={(e) => setPassword(e.currentTarget.value)}
                required
                withAsterisk={false}
              />
              {error && (
                <Alert role="alert" color="red" variant="light" icon={<IconAlertCircle aria-hidden="true" />}>
                  {error}
                </Alert>
              )}
              <Button type="submit" loading={busy} fullWidth mt="xs">
                {t('Log in')}
              </Button>
              <Text size="xs" c="dimmed">
                {t('A sub-account signs in with its own name; its main account is found for it.')}
              </Text>
            </Stack>
          </form>
        </Box>
      </Center>
    </Box>
  );
}

// The logo and the language switch: shown on the login page and in the header.
import { Button, Center, Loader } from '@mantine/core';
import { IconLanguage } from '@tabler/icons-react';
import { useLang, type Lang } from '../i18n';

export function Loading() {
  return (
    <Center h="60vh">
      <Loader aria-label="Loading" />
    </Center>
  );
}

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


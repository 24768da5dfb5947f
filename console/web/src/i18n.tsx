// English is the source language: each visible text is its own key, and zh.ts translates it.
import { createContext, useContext, useState, type ReactNode } from 'react';
import { zh } from './zh';

export type Lang = 'en' | 'zh';

const LangContext = createContext<{ lang: Lang; setLang: (lang: Lang) => void }>({
  lang: 'en',
  setLang: () => {},
});

const STORAGE_KEY = 'polaris-console-lang';

function initialLang(): Lang {
  const saved = localStorage.getItem(STORAGE_KEY);
  if (saved === 'en' || saved === 'zh') return saved;
  return 'en';
}

export function LangProvider({ children }: { children: ReactNode }) {
  const [lang, setLangState] = useState<Lang>(initialLang);
  const setLang = (next: Lang) => {
    localStorage.setItem(STORAGE_KEY, next);
    document.documentElement.lang = next === 'zh' ? 'zh-CN' : 'en';
    setLangState(next);
  };
  return <LangContext.Provider value={{ lang, setLang }}>{children}</LangContext.Provider>;
}

export function useLang() {
  return useContext(LangContext);
}

/** The translator of the current language: `t('Services')`, `t('{n} items', { n: 3 })`. */
export function useT() {
  const { lang } = useContext(LangContext);
  return (text: string, vars?: Record<string, string | number>) => {
    let out = lang === 'zh' ? (zh[text] ?? text) : text;
    if (vars) for (const [k, v] of Object.entries(vars)) out = out.replace(`{${k}}`, String(v));
    return out;
  };
}

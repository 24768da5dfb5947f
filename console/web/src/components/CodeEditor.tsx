// The code editor, loaded on demand (CodeMirror lives in its own chunk: see editor-impl.tsx).
import { lazy, Suspense } from 'react';
import { Skeleton } from '@mantine/core';

export type EditorLanguage = 'json' | 'yaml' | 'properties' | 'xml' | 'text';

export interface CodeEditorProps {
  value: string;
  onChange?: (value: string) => void;
  language: EditorLanguage;
  label: string;
  readOnly?: boolean;
  minHeight?: number;
}

const Impl = lazy(() => import('./editor-impl'));

export function CodeEditor(props: CodeEditorProps) {
  return (
    <Suspense fallback={<Skeleton h={props.minHeight ?? 240} />}>
      <Impl {...props} />
    </Suspense>
  );
}

export interface DiffProps {
  before: string;
  after: string;
  language: EditorLanguage;
  label: string;
}

const DiffImpl = lazy(() => import('./diff-impl'));

export function DiffView(props: DiffProps) {
  return (
    <Suspense fallback={<Skeleton h={240} />}>
      <DiffImpl {...props} />
    </Suspense>
  );
}

export function languageOf(format?: string, name?: string): EditorLanguage {
  const f = (format || name?.split('.').pop() || '').toLowerCase();
  if (f === 'json') return 'json';
  if (f === 'yaml' || f === 'yml') return 'yaml';
  if (f === 'properties') return 'properties';
  if (f === 'xml' || f === 'html') return 'xml';
  return 'text';
}

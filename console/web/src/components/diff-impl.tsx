import { useEffect, useRef } from 'react';
import { MergeView } from '@codemirror/merge';
import { EditorState } from '@codemirror/state';
import { EditorView, lineNumbers } from '@codemirror/view';
import type { DiffProps } from './CodeEditor';
import { languageExtension } from './languages';

export default function DiffImpl({ before, after, language, label }: DiffProps) {
  const host = useRef<HTMLDivElement>(null);
  useEffect(() => {
    const common = [
      lineNumbers(),
      ...languageExtension(language),
      EditorState.readOnly.of(true),
      EditorView.editable.of(false),
    ];
    const merge = new MergeView({
      parent: host.current!,
      a: { doc: before, extensions: [...common, EditorView.contentAttributes.of({ 'aria-label': `${label} (before)` })] },
      b: { doc: after, extensions: [...common, EditorView.contentAttributes.of({ 'aria-label': `${label} (after)` })] },
      collapseUnchanged: { margin: 3, minSize: 6 },
    });
    return () => merge.destroy();
  }, [before, after, language, label]);
  return <div ref={host} className="pc-diff" />;
}

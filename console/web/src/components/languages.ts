import { StreamLanguage } from '@codemirror/language';
import { json } from '@codemirror/lang-json';
import { yaml } from '@codemirror/lang-yaml';
import { properties } from '@codemirror/legacy-modes/mode/properties';
import { xml } from '@codemirror/legacy-modes/mode/xml';
import type { Extension } from '@codemirror/state';
import type { EditorLanguage } from './CodeEditor';

export function languageExtension(language: EditorLanguage): Extension[] {
  switch (language) {
    case 'json':
      return [json()];
    case 'yaml':
      return [yaml()];
    case 'properties':
      return [StreamLanguage.define(properties)];
    case 'xml':
      return [StreamLanguage.define(xml)];
    default:
      return [];
  }
}

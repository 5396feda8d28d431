import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';

/**
 * Just enough reading of Bicep text for the drift test: blocks by balanced braces/brackets,
 * top-level keys of an object, `param` declarations and `module` references. Comments and quoted
 * strings are skipped while matching, so a brace in a string or comment cannot end a block.
 * (A full parse with tree-sitter-bicep is a separate test.)
 */

export const INFRA_DIR = resolve(__dirname, '../../infra');

export function readBicep(relativePath: string): string {
  return readFileSync(join(INFRA_DIR, relativePath), 'utf8');
}

/** Index just past the bracket that closes the one at `openIndex`. */
function endOfBlock(text: string, openIndex: number): number {
  let depth = 0;
  for (let i = openIndex; i < text.length; i++) {
    const ch = text[i];
    if (ch === "'") {
      i = text.indexOf("'", i + 1);
      if (i < 0) break;
    } else if (ch === '/' && text[i + 1] === '/') {
      const eol = text.indexOf('\n', i);
      i = eol < 0 ? text.length : eol;
    } else if (ch === '{' || ch === '[') {
      depth++;
    } else if (ch === '}' || ch === ']') {
      depth--;
      if (depth === 0) return i + 1;
    }
  }
  throw new Error(`Unbalanced block starting at offset ${openIndex}.`);
}

/** The `{...}` or `[...]` block that follows the first match of `start` (a regex ending before the bracket). */
export function blockAfter(text: string, start: RegExp): string {
  const match = start.exec(text);
  if (!match) throw new Error(`No ${start} in the Bicep text.`);
  const from = match.index + match[0].length;
  const open = text.slice(from).search(/[{[]/);
  if (open < 0) throw new Error(`No block after ${start}.`);
  return text.slice(from + open, endOfBlock(text, from + open));
}

/** Keys at the top level of an object block `{ key: value ... }`. */
export function topLevelKeys(block: string): string[] {
  const inner = block.slice(1, -1);
  const keys: string[] = [];
  let i = 0;
  while (i < inner.length) {
    const rest = inner.slice(i);
    const key = /^\s*(?:\/\/[^\n]*\n\s*)*(?:'([^']+)'|([A-Za-z_][A-Za-z0-9_]*))\s*:/.exec(rest);
    if (!key) break;
    keys.push(key[1] ?? key[2]);
    // Skip the value: up to the end of its line, or past its block when it opens one.
    let j = i + key[0].length;
    while (inner[j] === ' ') j++;
    if (inner[j] === '{' || inner[j] === '[') j = endOfBlock(inner, j);
    else if (inner[j] === "'") j = inner.indexOf("'", j + 1) + 1;
    const eol = inner.indexOf('\n', j);
    i = eol < 0 ? inner.length : eol + 1;
  }
  return keys;
}

/** Single-quoted strings in a block, in order (comments skipped). */
export function quotedStrings(block: string): string[] {
  return [...block.replace(/\/\/[^\n]*/g, '').matchAll(/'([^']*)'/g)].map((m) => m[1]);
}

/** `key: value` where value is a literal on the same line, within a block (first occurrence). */
export function literalValue(block: string, key: string): string | undefined {
  const match = new RegExp(`^\\s*${key}\\s*:\\s*([^\\n/]+?)\\s*$`, 'm').exec(block);
  return match?.[1].replace(/^'(.*)'$/, '$1');
}

export interface ParamDeclaration {
  name: string;
  hasDefault: boolean;
}

export function paramDeclarations(text: string): ParamDeclaration[] {
  return [...text.matchAll(/^param\s+([A-Za-z_][A-Za-z0-9_]*)\s+[A-Za-z]+(\s*=)?/gm)].map((m) => ({ name: m[1], hasDefault: m[2] !== undefined }));
}

export interface ModuleReference {
  symbol: string;
  /** Path relative to infra/. */
  path: string;
  params: string[];
}

export function moduleReferences(text: string, fromFile = 'main.bicep'): ModuleReference[] {
  return [...text.matchAll(/^module\s+([A-Za-z_][A-Za-z0-9_]*)\s+'([^']+)'\s*=\s*/gm)].map((m) => {
    const body = text.slice(m.index + m[0].length, endOfBlock(text, m.index + m[0].length));
    const params = /\n\s*params\s*:\s*\{/.test(body) ? topLevelKeys(blockAfter(body, /\n\s*params\s*:\s*/)) : [];
    return { symbol: m[1], path: join(dirname(fromFile), m[2]), params };
  });
}

/** ISO-8601 duration of days/hours/minutes/seconds (Service Bus's TimeSpan form) in milliseconds. */
export function isoDurationMs(duration: string): number {
  const m = /^P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?)?$/.exec(duration);
  if (!m || duration === 'P' || duration.endsWith('T')) throw new Error(`"${duration}" is not an ISO-8601 duration.`);
  const [days, hours, minutes, seconds] = m.slice(1).map((part) => Number(part ?? 0));
  return (((days * 24 + hours) * 60 + minutes) * 60 + seconds) * 1000;
}

/** The object blocks `{...}` directly inside an array block `[...]`. */
export function arrayObjects(block: string): string[] {
  const items: string[] = [];
  let i = 1;
  while (i < block.length - 1) {
    const ch = block[i];
    if (ch === '/' && block[i + 1] === '/') {
      i = block.indexOf('\n', i) + 1 || block.length;
    } else if (ch === '{') {
      const end = endOfBlock(block, i);
      items.push(block.slice(i, end));
      i = end;
    } else {
      i++;
    }
  }
  return items;
}

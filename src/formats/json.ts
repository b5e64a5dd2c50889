/** Parsed JSON values: telling an object from the other values, and the notation for a key's path. */

/** A JSON object once parsed: an object that is neither null nor an array. */
export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** One step into a JSON value: an object key or an array index. */
export type PathSegment = string | number;

/**
 * `['dialog', 'engine', 'ctx-bins', 2]` -> `dialog.engine.ctx-bins[2]`; the document itself is
 * `(top level)`. Takes zod's issue paths as they are (their keys may be symbols).
 */
export function formatPath(path: readonly PropertyKey[]): string {
  let text = '';
  for (const segment of path) {
    if (typeof segment === 'number') text += `[${segment}]`;
    else text += text === '' ? String(segment) : `.${String(segment)}`;
  }
  return text === '' ? '(top level)' : text;
}

/**
 * `JSON.stringify(value)` for a message about a parsed JSON value: the same text when it is short,
 * cut after `limit` characters (ending in `...`) when it is long. It walks the value with its own
 * stack, so a value nested deeper than JSON.stringify can recurse (which JSON.parse accepts) renders
 * too, and it never builds more than about `limit` characters. `undefined` renders as `undefined`.
 */
export function jsonPreview(value: unknown, limit = 80): string {
  let out = '';
  const full = (): boolean => out.length > limit;
  /** Pending output: a text to append, or a value to render. */
  const pending: Array<{ text: string } | { value: unknown }> = [{ value }];
  while (pending.length > 0 && !full()) {
    const next = pending.pop()!;
    if ('text' in next) {
      out += next.text;
      continue;
    }
    const v = next.value;
    if (typeof v === 'string') out += JSON.stringify(v.length > limit ? v.slice(0, limit + 1) : v);
    else if (Array.isArray(v)) {
      const parts: Array<{ text: string } | { value: unknown }> = [{ text: '[' }];
      // Only as many items as can show: each takes at least one character.
      const shown = Math.min(v.length, limit + 1);
      for (let i = 0; i < shown; i++) parts.push(...(i > 0 ? [{ text: ',' }] : []), { value: v[i] });
      parts.push({ text: ']' });
      pending.push(...parts.reverse());
    } else if (isPlainObject(v)) {
      const parts: Array<{ text: string } | { value: unknown }> = [{ text: '{' }];
      let i = 0;
      for (const key in v) {
        if (!Object.hasOwn(v, key)) continue;
        if (i > limit) break;
        parts.push({ text: `${i++ > 0 ? ',' : ''}${JSON.stringify(key.length > limit ? key.slice(0, limit + 1) : key)}:` }, { value: v[key] });
      }
      parts.push({ text: '}' });
      pending.push(...parts.reverse());
    } else out += v === undefined ? 'undefined' : (JSON.stringify(v) ?? String(v));
  }
  return full() ? `${out.slice(0, limit)}...` : out;
}

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

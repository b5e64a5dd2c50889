import type { z } from 'zod';

/** `['graphs', 0, 'layers']` -> `graphs[0].layers`; the root is `(root)`. */
export function keyPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const part of path) {
    if (typeof part === 'number') out += `[${part}]`;
    else out += out === '' ? String(part) : `.${String(part)}`;
  }
  return out === '' ? '(root)' : out;
}

/** The first issue of a failed parse as `key <path>: <message>`. */
export function describeFirstIssue(error: z.ZodError, prefix: readonly PropertyKey[] = []): string {
  const issue = error.issues[0];
  return `key ${keyPath([...prefix, ...issue.path])}: ${issue.message}`;
}

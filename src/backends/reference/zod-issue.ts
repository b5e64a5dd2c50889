import type { z } from 'zod';
import { formatPath } from '../../formats/json.js';

/** The first issue of a failed parse as `key <path>: <message>`. */
export function describeFirstIssue(error: z.ZodError, prefix: readonly PropertyKey[] = []): string {
  const issue = error.issues[0];
  return `key ${formatPath([...prefix, ...issue.path])}: ${issue.message}`;
}

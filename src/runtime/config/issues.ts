import type * as z from 'zod';
import { formatPath, type PathSegment } from '../../formats/json.js';
import type { ConfigIssue } from './errors.js';

/** A short rendering of a JSON value for "found ..." in messages. */
export function describeValue(value: unknown): string {
  if (Array.isArray(value)) return value.length === 0 ? 'an empty array' : `an array of ${value.length}`;
  if (typeof value === 'object' && value !== null) return 'an object';
  if (typeof value === 'number' && !Number.isFinite(value)) return String(value);
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

/** The one message shape every value check uses: "expected X, found Y", or a missing mandatory key. */
export function expectedFound(expected: string, found: unknown): string {
  return found === undefined ? `mandatory key is missing (expected ${expected})` : `expected ${expected}, found ${describeValue(found)}`;
}

/** The union branch whose own type matched the value (e.g. the array branch for an array). */
function matchingBranch(issue: z.core.$ZodIssueInvalidUnion): readonly z.core.$ZodIssue[] | undefined {
  return issue.errors.find((branch) => !branch.some((inner) => inner.path.length === 0 && inner.code === 'invalid_type'));
}

/**
 * Turns zod issues (paths relative to `prefix`) into config issues. The schemas supply their own
 * messages. Unknown keys expand to one issue per key so each names its own path; a failed union
 * (one engine or an array of them) reports the mistakes inside the branch the value's type picked.
 */
export function toConfigIssues(issues: readonly z.core.$ZodIssue[], prefix: readonly PathSegment[]): ConfigIssue[] {
  const out: ConfigIssue[] = [];
  for (const issue of issues) {
    const path = [...prefix, ...(issue.path as PathSegment[])];
    const branch = issue.code === 'invalid_union' ? matchingBranch(issue) : undefined;
    if (branch !== undefined) {
      out.push(...toConfigIssues(branch, path));
    } else if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys) out.push({ path: formatPath([...path, key]), message: issue.message });
    } else {
      out.push({ path: formatPath(path), message: issue.message });
    }
  }
  return out;
}

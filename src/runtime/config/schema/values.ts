import * as z from 'zod';
import { isPlainObject, jsonPreview, type PathSegment } from '../../../formats/json.js';
import { describeValue, expectedFound } from '../issues.js';

/*
 * Building blocks of the Genie schemas. Every leaf is one predicate with one "expected ..." text, so
 * all value errors read "expected a positive integer, found -3". Leaves never abort the parse, so the
 * object rules still run and a file's mistakes are all reported together.
 */

export function leaf<T>(expected: string, test: (value: unknown) => boolean): z.ZodType<T> {
  return z.custom<T>(test, { abort: false, error: (issue) => expectedFound(expected, issue.input) });
}

const isInteger = (v: unknown): v is number => Number.isInteger(v);
const isNumber = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);

const versionOne = leaf<1>('1', (v) => v === 1);
export const bool = leaf<boolean>('true or false', (v) => typeof v === 'boolean');
export const text = leaf<string>('a non-empty string', (v) => typeof v === 'string' && v.length > 0);
/** A file path; relative ones resolve against the config's folder after parsing. */
export const filePath = leaf<string>('a non-empty path string', (v) => typeof v === 'string' && v.length > 0);
/** An entry of a per-ctx-bin path list, where "" means "none for this ctx-bin". */
export const optionalFilePath = leaf<string>('a path string ("" for none)', (v) => typeof v === 'string');
export const finiteNumber = leaf<number>('a number', isNumber);
export const positiveNumber = leaf<number>('a positive number', (v) => isNumber(v) && v > 0);
export const integer = leaf<number>('an integer', isInteger);
export const positiveInt = leaf<number>('a positive integer', (v) => isInteger(v) && v > 0);
export const nonNegativeInt = leaf<number>('an integer >= 0', (v) => isInteger(v) && v >= 0);
export const tokenId = leaf<number>('a token id (an integer >= 0)', (v) => isInteger(v) && v >= 0);
export const hexMask = leaf<string>('a hex string like "0xe0"', (v) => typeof v === 'string' && /^0x[0-9a-fA-F]+$/.test(v));

/** A number in an interval written as in maths: `numberIn('(', 0, 1, ']')` is (0, 1]. */
export function numberIn(lower: '[' | '(', min: number, max: number, upper: ']' | ')'): z.ZodType<number> {
  return leaf<number>(`a number in ${lower}${min}, ${max}${upper}`, (v) =>
    isNumber(v) && (lower === '[' ? v >= min : v > min) && (upper === ']' ? v <= max : v < max),
  );
}

export function integerInRange(min: number, max: number, expected: string): z.ZodType<number> {
  return leaf<number>(expected, (v) => isInteger(v) && v >= min && v <= max);
}

export function oneOf<const T extends readonly (string | number)[]>(values: T): z.ZodType<T[number]> {
  const listed = values.map((v) => JSON.stringify(v)).join(', ');
  return leaf<T[number]>(`one of ${listed}`, (v) => (values as readonly unknown[]).includes(v));
}

export function list<T>(item: z.ZodType<T>, what: string, options: { nonEmpty?: boolean } = {}): z.ZodType<T[]> {
  const expected = `${options.nonEmpty ? 'a non-empty array' : 'an array'} of ${what}`;
  const array = z.array(item, { error: (issue) => expectedFound(expected, issue.input) });
  return options.nonEmpty ? array.min(1, { error: (issue) => expectedFound(expected, issue.input) }) : array;
}

/** A Genie object: unknown keys are errors, each naming the keys that are allowed. */
export function strict<S extends z.ZodRawShape>(shape: S) {
  const allowed = Object.keys(shape).join(', ');
  return z.strictObject(shape, {
    error: (issue) =>
      issue.code === 'unrecognized_keys' ? `unknown key; expected one of: ${allowed}` : expectedFound('an object', issue.input),
  });
}

/** A Genie object that carries the mandatory `"version": 1`. */
export function versioned<S extends z.ZodRawShape>(shape: S) {
  return strict({ version: versionOne, ...shape });
}

export type Report = (path: readonly PathSegment[], message: string) => void;
export type RawObject = Readonly<Record<string, unknown>>;

/**
 * Cross-key rules of a Genie object. They run on the raw value even when some of its keys failed
 * their own checks (so all mistakes are reported at once); rules therefore test types themselves.
 */
export function withRules<S extends z.ZodType>(schema: S, rules: (value: RawObject, report: Report) => void): S {
  return schema.superRefine(
    (value, ctx) =>
      rules(value as RawObject, (path, message) => ctx.addIssue({ code: 'custom', path: [...path], message, input: value })),
    { when: (payload) => isPlainObject(payload.value) },
  ) as S;
}

/** Same as `withRules` for array-valued keys. */
export function withListRules<S extends z.ZodType>(schema: S, rules: (value: readonly unknown[], report: Report) => void): S {
  return schema.superRefine(
    (value, ctx) =>
      rules(value as readonly unknown[], (path, message) => ctx.addIssue({ code: 'custom', path: [...path], message, input: value })),
    { when: (payload) => Array.isArray(payload.value) },
  ) as S;
}

/** Message for a key that a sibling's value makes mandatory, e.g. `callback-name` with type "custom". */
export function requiredWhen(condition: string): string {
  return `mandatory key is missing (required when ${condition})`;
}

/** Message for a key that a sibling's value forbids, e.g. `temp` with type "custom". */
export function forbiddenWhen(condition: string, found: unknown): string {
  return `not allowed when ${condition}, found ${describeValue(found)}`;
}

/** "found ..." text for a sibling key: `no allow-async-init` or `allow-async-init false`. */
export function foundKey(value: RawObject, key: string): string {
  return value[key] === undefined ? `no ${key}` : `${key} ${describeValue(value[key])}`;
}

/** A raw value in a rule's message, as JSON (long or deeply nested values cut short, see `jsonPreview`). */
export const quoted = (value: unknown): string => jsonPreview(value);

import * as z from 'zod';
import { isPlainObject, jsonPreview, type PathSegment } from '../../../formats/json.js';
import { describeValue, expectedFound } from '../issues.js';

/*
 * Building blocks of the Genie schemas. Every check has two levels
 * (docs/genie-behaviour.md#config-general-rules):
 * - Genie's own check (mostly the JSON type, some value sets and mutual exclusions): a value that
 *   fails it is a config error, as in Genie;
 * - what genie-ts can run, checked only by `checkRunnable`: a value Genie accepts that genie-ts
 *   cannot run (a negative context size, a non-hex cpu-mask) is an *unsupported value*, a warning in
 *   `config check` and a NotSupportedError at load.
 * Both levels use one "expected ..." text, so every message reads "expected a positive integer,
 * found -3". Leaves never abort the parse, so the object rules still run and a file's mistakes are
 * all reported together.
 */

/** Set while `checkRunnable` runs: the runnable checks run, and only they. */
let runnableChecks = false;

/**
 * Runs `parse` with the runnable checks on. The parse is the second pass over a config that passed
 * Genie's checks, so every issue it reports is an unsupported value.
 */
export function checkRunnable<T>(parse: () => T): T {
  const previous = runnableChecks;
  runnableChecks = true;
  try {
    return parse();
  } finally {
    runnableChecks = previous;
  }
}

/**
 * A leaf: `genie` is Genie's check of the value, `runnable` (when given) what genie-ts runs among
 * the values Genie accepts.
 */
export function leaf<T>(expected: string, genie: (value: unknown) => boolean, runnable?: (value: unknown) => boolean): z.ZodType<T> {
  const schema = z.custom<T>(genie, { abort: false, error: (issue) => expectedFound(expected, issue.input) });
  if (runnable === undefined) return schema;
  return schema.superRefine(
    (value, ctx) => {
      if (!runnable(value)) ctx.addIssue({ code: 'custom', message: runnableMessage(expected, value), input: value });
    },
    { when: (payload) => runnableChecks && genie(payload.value) },
  ) as z.ZodType<T>;
}

/** An unsupported value's message: an integer too large for a double to hold exactly says so (it reads like a valid one). */
function runnableMessage(expected: string, value: unknown): string {
  const unsafe = Number.isInteger(value) && !Number.isSafeInteger(value);
  return unsafe ? `${expectedFound(expected, value)} (past 2^53: not held exactly)` : expectedFound(expected, value);
}

const isNumber = (v: unknown): v is number => typeof v === 'number';
const isString = (v: unknown): v is string => typeof v === 'string';
const isFiniteNumber = (v: unknown): v is number => isNumber(v) && Number.isFinite(v);
/** Integers genie-ts runs: those a double holds exactly (a config's JSON numbers are parsed into doubles). */
const isInteger = (v: unknown): v is number => Number.isSafeInteger(v);
const anything = (): boolean => true;

/** Genie reads `version` as an int (a fraction is cut off) and wants 1. */
const versionOne = leaf<1>('1', (v) => isNumber(v) && Math.trunc(v) === 1);
export const bool = leaf<boolean>('true or false', (v) => typeof v === 'boolean');
/** A string Genie takes as it is; genie-ts needs it non-empty. */
export const text = leaf<string>('a non-empty string', isString, (v) => (v as string).length > 0);
/** A string Genie itself refuses when empty (a cache group's prefix). */
export const nonEmptyText = leaf<string>('a non-empty string', (v) => isString(v) && v.length > 0);
/** Any string (a name Genie passes on without looking at it). */
export const anyText = leaf<string>('a string', isString);
/** A file path; relative ones resolve against the config's folder after parsing. */
export const filePath = leaf<string>('a non-empty path string', isString, (v) => (v as string).length > 0);
/** An entry of a per-ctx-bin path list, where "" means "none for this ctx-bin". */
export const optionalFilePath = leaf<string>('a path string ("" for none)', isString);
/** Any JSON number (Genie's JSON_ENFORCE_NUMERIC); genie-ts needs it finite. */
export const finiteNumber = leaf<number>('a number', isNumber, isFiniteNumber);
export const positiveNumber = leaf<number>('a positive number', isNumber, (v) => isFiniteNumber(v) && v > 0);
export const integer = leaf<number>('an integer', isNumber, isInteger);
export const positiveInt = leaf<number>('a positive integer', isNumber, (v) => isInteger(v) && v > 0);
export const nonNegativeInt = leaf<number>('an integer >= 0', isNumber, (v) => isInteger(v) && v >= 0);
export const tokenId = leaf<number>('a token id (an integer >= 0)', isNumber, (v) => isInteger(v) && v >= 0);
/** Genie takes any string and parses it as hex; genie-ts wants the `0x` form. */
export const hexMask = leaf<string>('a hex string like "0xe0"', isString, (v) => /^0x[0-9a-fA-F]+$/.test(v as string));
/** Any JSON value: Genie does not look at it (or overwrites it). */
export const anyValue = leaf<unknown>('a value', anything);
/** An object whose content is checked elsewhere (by a rule that knows when it applies). */
export const anObject = leaf<Record<string, unknown>>('an object', isPlainObject);

/** A number in an interval written as in maths: `numberIn('(', 0, 1, ']')` is (0, 1]. Genie checks only the type. */
export function numberIn(lower: '[' | '(', min: number, max: number, upper: ']' | ')'): z.ZodType<number> {
  return leaf<number>(`a number in ${lower}${min}, ${max}${upper}`, isNumber, (v) =>
    isFiniteNumber(v) && (lower === '[' ? v >= min : v > min) && (upper === ']' ? v <= max : v < max),
  );
}

/** An integer in [min, max]; Genie checks only that it is a number. */
export function integerInRange(min: number, max: number, expected: string): z.ZodType<number> {
  return leaf<number>(expected, isNumber, (v) => isInteger(v) && v >= min && v <= max);
}

/**
 * One of `values`. `genie: 'set'` (default): Genie checks the set itself, another value is an error;
 * `genie: 'string'`: Genie takes any string, and another one is a value genie-ts does not run.
 */
export function oneOf<const T extends readonly (string | number)[]>(values: T, options: { genie?: 'set' | 'string' } = {}): z.ZodType<T[number]> {
  const listed = values.map((v) => JSON.stringify(v)).join(', ');
  const inSet = (v: unknown): boolean => (values as readonly unknown[]).includes(v);
  return options.genie === 'string' ? leaf<T[number]>(`one of ${listed}`, isString, inSet) : leaf<T[number]>(`one of ${listed}`, inSet);
}

/**
 * An array. `nonEmpty: 'error'`: Genie refuses an empty one; `nonEmpty: 'runnable'`: Genie accepts
 * it but genie-ts cannot run it.
 */
export function list<T>(item: z.ZodType<T>, what: string, options: { nonEmpty?: 'error' | 'runnable' } = {}): z.ZodType<T[]> {
  const expected = `${options.nonEmpty ? 'a non-empty array' : 'an array'} of ${what}`;
  const array = z.array(item, { error: (issue) => expectedFound(expected, issue.input) });
  if (options.nonEmpty === 'error') return array.min(1, { error: (issue) => expectedFound(expected, issue.input) });
  if (options.nonEmpty === 'runnable') {
    return array.superRefine(
      (value, ctx) => {
        if (value.length === 0) ctx.addIssue({ code: 'custom', message: expectedFound(expected, value), input: value });
      },
      { when: (payload) => runnableChecks && Array.isArray(payload.value) },
    ) as z.ZodType<T[]>;
  }
  return array;
}

/** A Genie object: unknown keys are errors, each naming the keys that are allowed. */
export function strict<S extends z.ZodRawShape>(shape: S) {
  const allowed = Object.keys(shape).join(', ');
  return z.strictObject(shape, {
    error: (issue) =>
      issue.code === 'unrecognized_keys' ? `unknown key; expected one of: ${allowed}` : expectedFound('an object', issue.input),
  });
}

/** An object whose unknown keys Genie ignores (it never iterates them). */
export function loose<S extends z.ZodRawShape>(shape: S) {
  return z.looseObject(shape, { error: (issue) => expectedFound('an object', issue.input) });
}

/** A Genie object that carries the mandatory `"version": 1`. */
export function versioned<S extends z.ZodRawShape>(shape: S) {
  return strict({ version: versionOne, ...shape });
}

/** A versioned object whose other unknown keys Genie ignores (KeyDiff's block). */
export function looseVersioned<S extends z.ZodRawShape>(shape: S) {
  return loose({ version: versionOne, ...shape });
}

/**
 * Reports one problem of a rule: `'error'` (default) is a rule of Genie's, `'unsupported'` a value
 * Genie accepts that genie-ts cannot run (reported by the runnable pass only).
 */
export type Report = (path: readonly PathSegment[], message: string, kind?: 'error' | 'unsupported') => void;
export type RawObject = Readonly<Record<string, unknown>>;

function reporter(ctx: z.core.$RefinementCtx<unknown>, value: unknown): Report {
  return (path, message, kind = 'error') => {
    if ((kind === 'unsupported') === runnableChecks) ctx.addIssue({ code: 'custom', path: [...path], message, input: value });
  };
}

/**
 * Cross-key rules of a Genie object. They run on the raw value even when some of its keys failed
 * their own checks (so all mistakes are reported at once); rules therefore test types themselves.
 */
export function withRules<S extends z.ZodType>(schema: S, rules: (value: RawObject, report: Report) => void): S {
  return schema.superRefine((value, ctx) => rules(value as RawObject, reporter(ctx, value)), {
    when: (payload) => isPlainObject(payload.value),
  }) as S;
}

/** Same as `withRules` for array-valued keys. */
export function withListRules<S extends z.ZodType>(schema: S, rules: (value: readonly unknown[], report: Report) => void): S {
  return schema.superRefine((value, ctx) => rules(value as readonly unknown[], reporter(ctx, value)), {
    when: (payload) => Array.isArray(payload.value),
  }) as S;
}

/**
 * Checks `value` against `schema` inside a rule, reporting its issues under `path`: for a block
 * Genie validates only in some cases (the multistream block only in a multistream dialog).
 */
export function checkNested(schema: z.ZodType, value: unknown, path: readonly PathSegment[], report: Report): void {
  const result = schema.safeParse(value);
  if (result.success) return;
  for (const issue of result.error.issues) {
    const at = [...path, ...(issue.path as PathSegment[])];
    const kind = runnableChecks ? 'unsupported' : 'error';
    if (issue.code === 'unrecognized_keys') for (const key of issue.keys) report([...at, key], issue.message, kind);
    else report(at, issue.message, kind);
  }
}

/** Message for a key that a sibling's value makes mandatory, e.g. `callback-name` with type "custom". */
export function requiredWhen(condition: string): string {
  return `mandatory key is missing (required when ${condition})`;
}

/** Message for a key genie-ts needs to run a config, though Genie does not require it. */
export function neededToRun(what: string): string {
  return `mandatory key is missing (genie-ts needs it to ${what})`;
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

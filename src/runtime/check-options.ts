import { InvalidArgumentError } from '../errors.js';

/**
 * The keys an options object may have, each `true`. Declared with
 * `satisfies Record<keyof Options, true>`, so the compiler keeps the list equal to the interface.
 */
export type OptionKeys = Readonly<Record<string, true>>;

/**
 * Throws `InvalidArgumentError` unless `options` is undefined or an object whose every key is in
 * `known`; `what` names the options in the message (e.g. `Dialog.create options.backend`).
 */
export function checkOptionKeys(what: string, options: unknown, known: OptionKeys): void {
  if (options === undefined) return;
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    throw new InvalidArgumentError(`${what} must be an object, got ${describeValue(options)}`);
  }
  for (const key of Object.keys(options)) {
    if (!Object.hasOwn(known, key)) {
      throw new InvalidArgumentError(`${what}: unknown option "${key}" (known: ${Object.keys(known).join(', ')})`);
    }
  }
}

/** A value as a message shows it: numbers and booleans as they are, strings quoted, others by kind. */
export function describeValue(value: unknown): string {
  if (typeof value === 'string') return `the string ${JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}...` : value)}`;
  if (typeof value === 'number' || typeof value === 'boolean' || value === null || value === undefined) return String(value);
  if (typeof value === 'bigint') return `the bigint ${value}n`;
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'function') return 'a function';
  if (typeof value === 'symbol') return 'a symbol';
  return `an object (${Object.prototype.toString.call(value).slice(8, -1)})`;
}

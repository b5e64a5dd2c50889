/**
 * The command-line flag parser every command shares. Spellings: `--name value`, `--name=value`,
 * aliases with one dash and any length (`-c`, `-tok`, as genie-t2t-run has them), boolean flags
 * that take no value, `--` ending the flags. A flag given twice (under any spelling) is an error,
 * except a `values` flag, which collects one value each time.
 */
import { GenieError } from '../errors.js';

/** A bad command line: the command prints the message and its usage and exits with status 2. */
export class UsageError extends GenieError {
  constructor(message: string) {
    super('USAGE', message);
  }
}

export interface FlagSpec {
  /** Long name without dashes: `out` is `--out`; also the key in `ParsedFlags.values`. */
  readonly name: string;
  /** `value` takes one argument; `boolean` takes none; `values` takes one each time it is given (e.g. `--image a --image b`). */
  readonly kind: 'value' | 'boolean' | 'values';
  /** Other spellings, dashes included, e.g. `['-c']`. */
  readonly aliases?: readonly string[];
}

export interface ParsedFlags {
  /** By long name: the value, or `true` for a boolean flag that was given. */
  readonly values: ReadonlyMap<string, string | true>;
  /** By long name: the values of a `values` flag, in order (absent when it was not given). */
  readonly lists: ReadonlyMap<string, readonly string[]>;
  /** Arguments that are not flags, in order. */
  readonly positionals: readonly string[];
}

/** `-5` or `--` are not flags; anything else starting with a dash is. */
const looksLikeFlag = (arg: string): boolean => arg.startsWith('-') && arg !== '-' && !/^-\d/.test(arg);

/**
 * Parses `args` against `specs`. A value flag takes the next argument as its value even when it
 * starts with a dash (`--seed -1`), unless that argument is itself one of the flags.
 * @throws UsageError naming the flag: unknown, missing value, value given to a boolean, repeated.
 */
export function parseFlags(args: readonly string[], specs: readonly FlagSpec[]): ParsedFlags {
  const bySpelling = new Map<string, FlagSpec>();
  for (const spec of specs) {
    for (const spelling of [`--${spec.name}`, ...(spec.aliases ?? [])]) bySpelling.set(spelling, spec);
  }
  const isKnownFlag = (arg: string): boolean => bySpelling.has(arg.split('=', 1)[0]);
  const values = new Map<string, string | true>();
  const lists = new Map<string, string[]>();
  const spellingOf = new Map<string, string>();
  const positionals: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    if (arg === '--') {
      positionals.push(...args.slice(i + 1));
      break;
    }
    if (!looksLikeFlag(arg)) {
      positionals.push(arg);
      continue;
    }
    const eq = arg.indexOf('=');
    const spelling = eq < 0 ? arg : arg.slice(0, eq);
    const spec = bySpelling.get(spelling);
    if (spec === undefined) throw new UsageError(`unknown flag "${spelling}"`);
    const first = spellingOf.get(spec.name);
    if (first !== undefined && spec.kind !== 'values') {
      throw new UsageError(first === spelling ? `${spelling} is given twice` : `${spelling} is given twice (also as ${first})`);
    }
    let value: string | true;
    if (spec.kind === 'boolean') {
      if (eq >= 0) throw new UsageError(`${spelling} takes no value, got "${arg.slice(eq + 1)}"`);
      value = true;
    } else if (eq >= 0) {
      value = arg.slice(eq + 1);
    } else {
      const next = args[i + 1];
      if (next === undefined || isKnownFlag(next)) throw new UsageError(`${spelling} needs a value`);
      value = next;
      i++;
    }
    if (spec.kind === 'values') {
      if (!lists.has(spec.name)) lists.set(spec.name, []);
      lists.get(spec.name)!.push(value as string);
    } else {
      values.set(spec.name, value);
    }
    spellingOf.set(spec.name, spelling);
  }
  return { values, lists, positionals };
}

/** Prints a command's usage error (`genie-ts NAME: message`, then where its help is) and returns exit status 2. */
export function reportUsageError(io: { stderr(text: string): void }, command: string, message: string): number {
  io.stderr(`genie-ts ${command}: ${message}\n(see genie-ts ${command} --help)\n`);
  return 2;
}

/**
 * A command's arguments parsed by `parse`, or its exit status: 2 after a UsageError (reported),
 * 0 after printing `usage` for `--help`.
 */
export function parseCommandArgs<T extends { readonly help: boolean }>(
  command: string,
  usage: string,
  args: readonly string[],
  io: { stdout(text: string): void; stderr(text: string): void },
  parse: (args: readonly string[]) => T,
): T | number {
  let parsed: T;
  try {
    parsed = parse(args);
  } catch (error) {
    if (error instanceof UsageError) return reportUsageError(io, command, error.message);
    throw error;
  }
  if (parsed.help) {
    io.stdout(usage);
    return 0;
  }
  return parsed;
}

/** A whole decimal integer (`-3`, `42`); anything else, `1.5`, `1e3`, `0x10` or `""` included, is a UsageError. */
export function parseIntegerFlag(flag: string, text: string): number {
  const value = Number(text);
  if (!/^-?\d+$/.test(text) || !Number.isSafeInteger(value)) {
    throw new UsageError(`${flag} "${text}" is not an integer`);
  }
  return value;
}

/** Comma-separated integers, e.g. `1,32,128`. */
export function parseIntegerListFlag(flag: string, text: string): number[] {
  const entries = text.split(',');
  return entries.map((entry) => {
    if (!/^-?\d+$/.test(entry) || !Number.isSafeInteger(Number(entry))) {
      throw new UsageError(`${flag} "${text}": entry "${entry}" is not an integer`);
    }
    return Number(entry);
  });
}

/** One of `choices`. */
export function parseChoiceFlag<T extends string>(flag: string, text: string, choices: readonly T[]): T {
  if (!(choices as readonly string[]).includes(text)) {
    throw new UsageError(`${flag} "${text}" is not one of: ${choices.join(', ')}`);
  }
  return text as T;
}

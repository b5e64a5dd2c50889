import { InvalidArgumentError } from '../../errors.js';
import { checkOptionKeys, describeValue } from '../check-options.js';
import type { DerivedDialog } from '../config/derive.js';
import { DropOldestTurnsPolicy } from './drop-oldest-turns.js';
import type { KvPolicy } from './policy.js';
import { SlidingWindowPolicy } from './sliding-window.js';

/** A built-in policy by name and settings (`DialogOptions.kvPolicy`, `run --kv-policy`). */
export type KvPolicySpec =
  | 'none'
  | { readonly type: 'sliding-window'; readonly reservedTokens?: number; readonly windowSize: number }
  | { readonly type: 'drop-oldest-turns'; readonly keepTurns?: number };

/**
 * The policy a dialog runs: `option` when given ('none': no eviction, even when the config has a
 * long-context block), else the config's `longcontext` sliding window, else none (Genie's default:
 * a full cache is a ContextLimitError).
 * @throws InvalidArgumentError for an option that is neither a spec nor a policy, naming the value.
 */
export function resolveKvPolicy(option: KvPolicy | KvPolicySpec | undefined, config: Pick<DerivedDialog, 'slidingWindow'>): KvPolicy | null {
  const where = 'Dialog.create option kvPolicy';
  if (option === undefined) {
    const window = config.slidingWindow;
    return window === null ? null : new SlidingWindowPolicy(window.reservedTokens, window.windowSize);
  }
  if (option === 'none') return null;
  if (typeof option !== 'object' || option === null || Array.isArray(option)) {
    throw new InvalidArgumentError(`${where} must be 'none', a { type } spec or a KvPolicy object, got ${describeValue(option)}`);
  }
  if ('makeRoom' in option) {
    if (typeof option.makeRoom !== 'function') throw new InvalidArgumentError(`${where}.makeRoom must be a function, got ${describeValue(option.makeRoom)}`);
    if (option.afterStep !== undefined && typeof option.afterStep !== 'function') {
      throw new InvalidArgumentError(`${where}.afterStep must be a function or absent, got ${describeValue(option.afterStep)}`);
    }
    if (typeof option.name !== 'string' || option.name === '') throw new InvalidArgumentError(`${where}.name must be a non-empty string, got ${describeValue(option.name)}`);
    return option;
  }
  const spec = option as { type?: unknown };
  switch (spec.type) {
    case 'sliding-window': {
      const { reservedTokens = 0, windowSize } = option as { reservedTokens?: number; windowSize: number };
      checkOptionKeys(where, option, { type: true, reservedTokens: true, windowSize: true });
      return withWhere(where, () => new SlidingWindowPolicy(reservedTokens, windowSize));
    }
    case 'drop-oldest-turns': {
      checkOptionKeys(where, option, { type: true, keepTurns: true });
      const { keepTurns = 1 } = option as { keepTurns?: number };
      return withWhere(where, () => new DropOldestTurnsPolicy(keepTurns));
    }
    default:
      throw new InvalidArgumentError(`${where}.type must be "sliding-window" or "drop-oldest-turns" (or pass a KvPolicy object), got ${describeValue(spec.type)}`);
  }
}

/**
 * `run --kv-policy`: `none`, `sliding-window:WINDOW[:RESERVED]` or `drop-oldest-turns[:KEEP]`.
 * @throws InvalidArgumentError naming the text and the forms it takes.
 */
export function parseKvPolicySpec(text: string): KvPolicySpec {
  const [name, ...args] = text.split(':');
  const numbers = args.map((a) => (/^\d+$/.test(a) ? Number(a) : Number.NaN));
  const bad = (): never => {
    throw new InvalidArgumentError(
      `--kv-policy "${text}": expected none, sliding-window:WINDOW[:RESERVED] or drop-oldest-turns[:KEEP] (whole numbers)`,
    );
  };
  if (numbers.some(Number.isNaN)) bad();
  if (name === 'none' && args.length === 0) return 'none';
  if (name === 'sliding-window' && (args.length === 1 || args.length === 2)) {
    return { type: 'sliding-window', windowSize: numbers[0], reservedTokens: numbers[1] ?? 0 };
  }
  if (name === 'drop-oldest-turns' && args.length <= 1) return { type: 'drop-oldest-turns', keepTurns: numbers[0] ?? 1 };
  return bad();
}

function withWhere(where: string, build: () => KvPolicy): KvPolicy {
  try {
    return build();
  } catch (error) {
    if (error instanceof InvalidArgumentError) throw new InvalidArgumentError(`${where}: ${error.message}`);
    throw error;
  }
}

import { InvalidArgumentError } from '../../errors.js';
import { CallbackError } from '../callbacks.js';
import { describeValue as describe } from '../check-options.js';
import type { Engine } from '../engine/engine.js';
import type { TurnLedger } from '../turn-ledger.js';
import type { KvCacheView, KvEviction, KvPolicy, KvRoomRequest } from './policy.js';

/**
 * What `policy` answers when the cache cannot take `request.needed` more entries, checked against
 * the cache: the eviction, or null when the policy answered 'error'. Changes nothing.
 * @throws CallbackError when the policy throws; InvalidArgumentError for an answer that is not a
 * valid eviction or does not make enough room (naming the policy).
 */
export function decideRoom(policy: KvPolicy, cache: KvCacheView, request: KvRoomRequest): KvEviction | null {
  let decision: unknown;
  try {
    decision = policy.makeRoom(cache, request);
  } catch (error) {
    throw new CallbackError(`kvPolicy "${policy.name}" makeRoom`, error);
  }
  if (decision === 'error') return null;
  const eviction = checkEviction(policy, 'makeRoom', decision, cache, true);
  const after = cache.length - eviction.evict.length + request.needed;
  if (after > cache.capacity) {
    throw new InvalidArgumentError(
      `kv policy "${policy.name}": makeRoom evicted ${eviction.evict.length} of ${cache.length} entries, but ${request.needed} more must fit ` +
        `in ${cache.capacity}: evict at least ${cache.length + request.needed - cache.capacity}, or answer 'error'`,
    );
  }
  return eviction;
}

/** What the policy's `afterStep` answers, checked (null: keep everything). Changes nothing. */
export function decideAfterStep(policy: KvPolicy, cache: KvCacheView): KvEviction | null {
  if (policy.afterStep === undefined) return null;
  let decision: unknown;
  try {
    decision = policy.afterStep(cache);
  } catch (error) {
    throw new CallbackError(`kvPolicy "${policy.name}" afterStep`, error);
  }
  if (decision === null) return null;
  return checkEviction(policy, 'afterStep', decision, cache, false);
}

/**
 * Applies a checked eviction to the engine's KV cache and the ledger together: in place (the kept
 * entries keep their positions), or by recomputing the kept entries from position 0.
 */
export async function applyEviction(engine: Engine, ledger: TurnLedger, eviction: KvEviction): Promise<void> {
  const { evict } = eviction;
  if (eviction.recompute !== true) {
    evictInPlace(engine, ledger, eviction);
    return;
  }
  ledger.evict(evict);
  const kept: number[] = [];
  for (let i = 0; i < ledger.entries; i++) kept.push(ledger.keyAt(i) as number);
  engine.reset();
  try {
    if (kept.length > 0) await engine.prefill(kept);
  } catch (error) {
    // The cache is empty now (or was disposed): so is what the ledger says it holds.
    ledger.evict(kept.map((_, i) => i));
    throw error;
  }
  ledger.renewStamps();
}

/** Applies a checked eviction that does not recompute: the kept entries move down with their positions. */
export function evictInPlace(engine: Engine, ledger: TurnLedger, eviction: KvEviction): void {
  if (eviction.evict.length === 0) return;
  engine.evict(eviction.evict);
  ledger.evict(eviction.evict);
}

/** `decision` as an eviction of held slots, or InvalidArgumentError naming the policy and what is wrong. */
function checkEviction(policy: KvPolicy, hook: string, decision: unknown, cache: KvCacheView, mayRecompute: boolean): KvEviction {
  const fail = (what: string): never => {
    throw new InvalidArgumentError(`kv policy "${policy.name}": ${hook} answered ${what}`);
  };
  if (typeof decision !== 'object' || decision === null) {
    return fail(`${describe(decision)}; expected ${mayRecompute ? "'error' or " : 'null or '}{ evict: slots${mayRecompute ? ', recompute?' : ''} }`);
  }
  const { evict, recompute } = decision as { evict?: unknown; recompute?: unknown };
  if (!isArrayLike(evict)) return fail(`evict = ${describe(evict)}; expected an array of slots`);
  for (let i = 0; i < evict.length; i++) {
    const slot = evict[i];
    if (!Number.isInteger(slot) || slot < 0 || slot >= cache.length) fail(`evict[${i}] = ${describe(slot)}, not a held slot in [0, ${cache.length})`);
    if (i > 0 && slot <= evict[i - 1]) fail(`evict[${i}] = ${slot} after ${evict[i - 1]}; slots must be strictly ascending`);
  }
  if (recompute !== undefined && typeof recompute !== 'boolean') fail(`recompute = ${describe(recompute)}; expected a boolean`);
  if (recompute === true) {
    if (!mayRecompute) fail('recompute: true; only makeRoom may recompute (afterStep runs between a step and its sampling)');
    for (let slot = 0, e = 0; slot < cache.length; slot++) {
      if (e < evict.length && evict[e] === slot) e++;
      else if (cache.kind(slot) !== 'token') fail(`recompute: true, but kept slot ${slot} holds an ${cache.kind(slot)} row, which has no token to feed again`);
    }
  }
  return decision as KvEviction;
}

function isArrayLike(value: unknown): value is ArrayLike<number> {
  return Array.isArray(value) || (ArrayBuffer.isView(value) && !(value instanceof DataView));
}

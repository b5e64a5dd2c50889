import { InvalidArgumentError } from '../../errors.js';
import type { KvCacheView, KvDecision, KvPolicy, KvRoomRequest } from './policy.js';

/**
 * Drops whole turns, oldest first, when the cache is full: a conversation forgets its earliest
 * exchanges (prompt and reply together) but keeps its first `keepTurns` turns (the system prompt,
 * when it was fed as the first turn) and the turn being generated. The kept entries keep their
 * positions. 'error' when dropping every other turn would not make room.
 */
export class DropOldestTurnsPolicy implements KvPolicy {
  readonly name = 'drop-oldest-turns';

  constructor(readonly keepTurns = 1) {
    if (!Number.isSafeInteger(keepTurns) || keepTurns < 0) {
      throw new InvalidArgumentError(`drop-oldest-turns keepTurns must be an integer >= 0, got ${String(keepTurns)}`);
    }
  }

  makeRoom(cache: KvCacheView, request: KvRoomRequest): KvDecision {
    const over = cache.length + request.needed - cache.capacity;
    // Skip the first keepTurns turns.
    let slot = 0;
    for (let kept = 0; kept < this.keepTurns && slot < cache.length; kept++) slot = turnEnd(cache, slot);
    const first = slot;
    // Then take whole turns until enough entries go; the coming entries' turn stays.
    while (slot - first < over && slot < cache.length && cache.turn(slot) < request.turn) slot = turnEnd(cache, slot);
    if (slot - first < over) return 'error';
    return { evict: Array.from({ length: slot - first }, (_, i) => first + i) };
  }
}

/** The slot after the last entry of the turn that `slot` is in. */
function turnEnd(cache: KvCacheView, slot: number): number {
  const turn = cache.turn(slot);
  let end = slot + 1;
  while (end < cache.length && cache.turn(end) === turn) end++;
  return end;
}

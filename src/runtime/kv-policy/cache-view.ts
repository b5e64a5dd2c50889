import { InvalidArgumentError } from '../../errors.js';
import type { Engine } from '../engine/engine.js';
import type { TurnLedger } from '../turn-ledger.js';
import type { KvCacheView, KvEntryKind } from './policy.js';

/**
 * A dialog's KV cache as policies and callers read it (`Dialog.kvCache`): positions from the
 * engine, token ids and turns from the turn ledger, which move in step with it.
 */
export class DialogKvView implements KvCacheView {
  constructor(
    private readonly engine: Engine,
    private readonly ledger: TurnLedger,
    readonly capacity: number,
  ) {}

  get length(): number {
    return this.engine.nValid;
  }

  get nextPosition(): number {
    return this.engine.position;
  }

  position(slot: number): number {
    this.check(slot);
    return this.engine.kvCache.positionAt(slot);
  }

  token(slot: number): number {
    this.check(slot);
    const key = this.ledger.keyAt(slot);
    return typeof key === 'number' && key >= 0 ? key : -1;
  }

  kind(slot: number): KvEntryKind {
    this.check(slot);
    const key = this.ledger.keyAt(slot);
    return typeof key === 'string' ? 'image' : key >= 0 ? 'token' : 'embedding';
  }

  turn(slot: number): number {
    this.check(slot);
    return this.ledger.turnAt(slot);
  }

  private check(slot: number): void {
    if (!Number.isInteger(slot) || slot < 0 || slot >= this.engine.nValid) {
      throw new InvalidArgumentError(`slot ${String(slot)} is not a held KV entry in [0, ${this.engine.nValid})`);
    }
  }
}

/**
 * The first `length` entries of a cache view: what a rewind query keeps of the cache, shown to the
 * policy that makes room for the rest of the conversation before the rewind has cut the cache.
 */
export class CachePrefixView implements KvCacheView {
  constructor(
    private readonly cache: KvCacheView,
    readonly length: number,
  ) {}

  get capacity(): number {
    return this.cache.capacity;
  }

  get nextPosition(): number {
    return this.length === 0 ? 0 : this.cache.position(this.length - 1) + 1;
  }

  position(slot: number): number {
    return this.cache.position(this.check(slot));
  }

  token(slot: number): number {
    return this.cache.token(this.check(slot));
  }

  kind(slot: number): KvEntryKind {
    return this.cache.kind(this.check(slot));
  }

  turn(slot: number): number {
    return this.cache.turn(this.check(slot));
  }

  private check(slot: number): number {
    if (!Number.isInteger(slot) || slot < 0 || slot >= this.length) {
      throw new InvalidArgumentError(`slot ${String(slot)} is not a held KV entry in [0, ${this.length})`);
    }
    return slot;
  }
}

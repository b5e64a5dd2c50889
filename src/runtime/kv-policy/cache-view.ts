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

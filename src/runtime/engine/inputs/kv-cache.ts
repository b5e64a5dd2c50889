import { InvalidArgumentError } from '../../../errors.js';
import type { IoTensor, ModelLayout } from '../../../graphs/layout.js';
import { kvClearValue } from '../../../kv/clear-value.js';
import { KvCacheManager, type KvSlot } from '../../../kv/kv-cache.js';
import type { EngineBuffers } from '../buffers.js';
import type { EngineStep } from '../step.js';
import type { InputPart } from './input-part.js';

/**
 * The KV tensors of every slot (`past_key_*_in/out`, `past_value_*_in/out`) and what the cache
 * holds: before a step the cache is laid out for the step's (CL, AR), after it the new entries are
 * committed (out -> in). It also records the position of each slot's entry, so positions can move
 * apart from slots: the next entry's position is the last entry's plus one (0 in an empty cache)
 * unless `setNextPosition` moved it on.
 *
 * The commit can be staged split by split, as Genie copies a split's new entries while the next
 * split runs (docs/genie-behaviour.md#kv-cache-smart-mask): `beginCommit` makes the step's entries
 * count at once (`nValid`, positions), `commitPart(p)` copies split p's slots, and whatever is left
 * is copied by `finishCommit`, which every reader of the cache (`cache`, `truncate`, `evict`, a
 * new shape) calls first, so nothing ever sees a half-committed cache.
 */
export class KvCachePart implements InputPart {
  readonly name = 'KV cache';
  readonly tensors: readonly IoTensor[];
  /** Most entries the binaries can hold: the largest KV-in past dim (CL - AR for concat graphs). */
  readonly capacity: number;
  private readonly manager: KvCacheManager;
  /** The manager's slot indices each split (variant part index) reads and writes. */
  private readonly partSlots: readonly Int32Array[];
  private readonly slotPositions: Int32Array;
  private next = 0;
  /** While a commit is staged: the entries held once it is done, and the next position before it began. */
  private stagedEnd = 0;
  private nextBefore = 0;

  constructor(layout: ModelLayout, buffers: EngineBuffers, initial: { readonly cl: number; readonly ar: number }) {
    // KV regions are sized for the largest CL; the cache starts on `initial` and follows each step's (CL, AR).
    const cl = layout.maxContextLength;
    this.manager = new KvCacheManager({
      contextLength: initial.cl,
      maxContextLength: cl,
      ar: initial.ar,
      mode: layout.kvMode,
      clearValue: kvClearValue(layout.kv[0].key.dtype, layout.kv[0].key.encoding),
      slots: layout.kv.map((slot): KvSlot => {
        if (slot.key.heads !== slot.value.heads || slot.key.headDim !== slot.value.headDim) {
          throw new InvalidArgumentError(
            `KV layer ${slot.layer}: "${slot.key.in}" has ${slot.key.heads}x${slot.key.headDim} (heads x head_dim) ` +
              `but "${slot.value.in}" has ${slot.value.heads}x${slot.value.headDim}`,
          );
        }
        // The manager owns KV-in (heads x head_dim x CL elements); a scatter region also holds KV-out after it.
        const elements = slot.key.heads * slot.key.headDim * cl;
        return {
          key: buffers.view({ name: slot.key.region, dtype: slot.key.dtype }).subarray(0, elements),
          value: buffers.view({ name: slot.value.region, dtype: slot.value.dtype }).subarray(0, elements),
          heads: slot.key.heads,
          headDim: slot.key.headDim,
        };
      }),
    });
    this.tensors = layout.kv.flatMap(({ key, value }) =>
      [key, value].flatMap(({ in: input, out, dtype, encoding }) => [
        { name: input, dtype, encoding },
        { name: out, dtype, encoding },
      ]),
    );
    this.capacity = Math.max(...layout.variants.map((v) => v.pastDim));
    this.slotPositions = new Int32Array(this.capacity);
    const parts = Math.max(...layout.variants.map((v) => v.parts.length));
    this.partSlots = Array.from({ length: parts }, (_, p) =>
      Int32Array.from(layout.kv.flatMap((slot, s) => (slot.part === p ? [s] : []))),
    );
  }

  /** The cache, its staged commit (if any) finished first. */
  get cache(): KvCacheManager {
    this.finishCommit();
    return this.manager;
  }

  /** Entries held (a staged commit's included). */
  get nValid(): number {
    return this.manager.updating ? this.stagedEnd : this.manager.nValid;
  }

  /** Position the next entry gets. */
  get nextPosition(): number {
    return this.next;
  }

  /** The position entry `slot` (< nValid, unchecked) was computed at. */
  positionAt(slot: number): number {
    return this.slotPositions[slot];
  }

  /** The lowest position the next entry may take: positions increase along the slots. */
  get minNextPosition(): number {
    const n = this.nValid;
    return n === 0 ? 0 : this.slotPositions[n - 1] + 1;
  }

  /** Moves the next entry's position (checked by the engine against `minNextPosition` and the model's limit). */
  setNextPosition(position: number): void {
    this.next = position;
  }

  fill(step: EngineStep): void {
    const { cl, ar } = step.variant;
    const manager = this.manager;
    if (manager.ar !== ar || manager.contextLength !== cl) this.cache.setShape(cl, ar);
  }

  /** After the step's graphs ran: its entries join the cache at slots nValid.., positions position... */
  commit(step: EngineStep): void {
    this.beginCommit(step);
    this.finishCommit();
  }

  /**
   * Stages the step's commit (the previous one must be finished): its entries count from now on
   * (slots nValid.., positions position..); their KV data is copied by `commitPart` / `finishCommit`.
   */
  beginCommit(step: EngineStep): void {
    const { nValid, nNew, position } = step;
    this.manager.beginUpdate(nValid, nNew);
    this.stagedEnd = nValid + nNew;
    this.nextBefore = this.next;
    for (let i = 0; i < nNew; i++) this.slotPositions[nValid + i] = position + i;
    this.next = position + nNew;
  }

  /** Copies the staged entries of split `part`'s slots (once its graph has run); no-op when nothing is staged. */
  commitPart(part: number): void {
    if (this.manager.updating) this.manager.updateSlots(this.partSlots[part]);
  }

  /** Copies whatever the staged commit has left; no-op when nothing is staged. */
  finishCommit(): void {
    if (this.manager.updating) this.manager.endUpdate();
  }

  /** Drops the staged commit (its step failed): the cache and the next position are as before it began. */
  abortCommit(): void {
    if (!this.manager.updating) return;
    this.manager.abortUpdate();
    this.next = this.nextBefore;
  }

  /** Keeps the first `n` entries (a rewind); the next entry follows entry n - 1. */
  truncate(n: number): void {
    this.cache.truncate(n);
    this.next = this.minNextPosition;
  }

  /**
   * Drops the entries in `slots` (strictly ascending, < nValid; see `KvCacheManager.evict`): the
   * later ones move down with their positions, and the next entry keeps the position it would have had.
   */
  evict(slots: ArrayLike<number>): void {
    const before = this.cache.nValid;
    this.cache.evict(slots);
    const positions = this.slotPositions;
    let n = slots.length === 0 ? before : slots[0];
    for (let slot = n, e = 0; slot < before; slot++) {
      if (e < slots.length && slots[e] === slot) e++;
      else positions[n++] = positions[slot];
    }
  }

  /** The position of each held entry (a copy), for save/restore (src/runtime/save). */
  positions(): Int32Array {
    return this.slotPositions.slice(0, this.cache.nValid);
  }

  /** After `cache.loadEntries`: the held entries' positions and the next one's (checked by the caller). */
  loadPositions(positions: ArrayLike<number>, next: number): void {
    this.slotPositions.set(positions);
    this.next = next;
  }

  /** Empties the cache; the next entry is at position 0. */
  clear(): void {
    this.manager.clear();
    this.next = 0;
  }
}

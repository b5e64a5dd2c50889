import { InvalidArgumentError } from '../errors.js';
import type { ElementArray } from '../tensor/dtype.js';
import { checkInteger, checkStorable } from './checks.js';
import { copyRowSpans, fillRowSpans, restrideRows } from './rows.js';

/**
 * How the graphs take the cache.
 * - `concat`: KV-in past dim = CL - AR; the graph concatenates past and new internally and outputs
 *   the AR new entries; the host copies them into KV-in (Genie's SMART_MASK).
 * - `scatter`: KV-in past dim = CL; the graph writes row i's entry at `cache_index[i]` itself.
 */
export type KvMode = 'concat' | 'scatter';

/**
 * One KV tensor pair: a whole layer (`heads` = kv_heads) or one head of it (`past_key_3_h5_in`:
 * `heads` = 1). Both arrays cover the slot's region in elements, `heads * headDim * maxContextLength`
 * each, sized for the largest variant; the active (CL, AR) variant uses its front:
 * - concat: `key` = `[k_in (heads, head_dim, CL-AR) | k_out (heads, head_dim, AR)]`,
 *   `value` = `[v_in (heads, CL-AR, head_dim) | v_out (heads, AR, head_dim)]`
 *   (at one CL only the in/out boundary moves with AR);
 * - scatter: just KV-in, `key` `(heads, head_dim, CL)` and `value` `(heads, CL, head_dim)`.
 */
export interface KvSlot {
  readonly key: ElementArray;
  readonly value: ElementArray;
  readonly heads: number;
  readonly headDim: number;
}

export interface KvCacheOptions {
  /** CL of the variant active at construction. */
  readonly contextLength: number;
  /**
   * Largest CL the cache will be switched to (`setShape`); the slots are sized for it.
   * Default `contextLength` (a single-CL cache).
   */
  readonly maxContextLength?: number;
  /** AR of the variant active at construction. */
  readonly ar: number;
  readonly mode: KvMode;
  /** Stored form of an empty slot (see `kvClearValue`); must fit the arrays' element type. */
  readonly clearValue: number;
  readonly slots: readonly KvSlot[];
}

/**
 * SMART_MASK KV-cache manager over caller-owned buffers: entries [0, nValid) of every KV-in hold the
 * cache, left-aligned, every other KV-in slot holds the clear value, and validity is expressed only
 * by the attention mask. Every operation applies to all slots and validates its arguments before it
 * changes anything. Nothing allocates after construction.
 */
export class KvCacheManager {
  readonly maxContextLength: number;
  readonly mode: KvMode;
  readonly clearValue: number;
  private readonly keys: ElementArray[];
  private readonly values: ElementArray[];
  private readonly heads: Int32Array;
  private readonly headDims: Int32Array;
  private clValue: number;
  private arValue: number;
  private count = 0;
  /** `evict`'s scratch: the runs of kept entries (source slot, destination slot, length). */
  private readonly runs: Int32Array;
  /** The staged update (`beginUpdate`): slots committed so far (1) and how many are left (-1: none staged). */
  private readonly staged: Uint8Array;
  private stagedLeft = -1;
  private stagedNValid = 0;
  private stagedNNew = 0;
  private stagedSrcOffset = 0;

  /** Validates the buffers against the declared shapes, then clears them (nValid = 0). */
  constructor(options: KvCacheOptions) {
    const { contextLength, maxContextLength = contextLength, ar, mode, clearValue, slots } = options;
    if (mode !== 'concat' && mode !== 'scatter') {
      throw new InvalidArgumentError(`mode must be "concat" or "scatter", got "${String(mode)}"`);
    }
    checkInteger('contextLength', contextLength, 1, 2 ** 24);
    checkInteger('maxContextLength', maxContextLength, contextLength, 2 ** 24);
    checkArVariant(mode, contextLength, ar);
    if (slots.length === 0) throw new InvalidArgumentError('slots must list at least one KV slot, got none');
    slots.forEach((slot, i) => checkSlot(slot, i, maxContextLength, slots[0].key));
    checkStorable('clearValue', slots[0].key, clearValue);
    checkNoOverlap(slots);

    this.maxContextLength = maxContextLength;
    this.mode = mode;
    this.clearValue = clearValue;
    this.clValue = contextLength;
    this.arValue = ar;
    this.keys = slots.map((s) => s.key);
    this.values = slots.map((s) => s.value);
    this.heads = Int32Array.from(slots, (s) => s.heads);
    this.headDims = Int32Array.from(slots, (s) => s.headDim);
    this.runs = new Int32Array(3 * maxContextLength);
    this.staged = new Uint8Array(slots.length);
    this.clear();
  }

  /** Number of cached entries (positions) per head. */
  get nValid(): number {
    return this.count;
  }

  /** CL of the active variant. */
  get contextLength(): number {
    return this.clValue;
  }

  /** AR of the active variant. */
  get ar(): number {
    return this.arValue;
  }

  /** Entries KV-in holds per head: CL - AR (concat) or CL (scatter). */
  get pastDim(): number {
    return pastDimOf(this.mode, this.clValue, this.arValue);
  }

  /**
   * Commits `nNew` entries the graph just produced, written at position `nValid`; afterwards the cache
   * holds `nValid + nNew` entries (an `nValid` below the current count also drops the entries after
   * the new ones, so a rejected draft is rewound in the same call).
   * - concat: copies KV-out positions `srcOffset .. srcOffset + nNew` into KV-in.
   * - scatter: the graph already wrote them; only clears what it scattered for padded rows (cache_index
   *   is an iota over all AR rows) so free slots keep the clear value. `srcOffset` must be 0.
   */
  update(nValid: number, nNew: number, srcOffset = 0): void {
    this.checkNotStaged('update');
    this.checkUpdate(nValid, nNew, srcOffset);
    for (let s = 0; s < this.keys.length; s++) this.updateSlot(s, nValid, nNew, srcOffset);
    this.count = nValid + nNew;
  }

  /**
   * `update` in stages, for graphs that run split by split: `beginUpdate` checks the arguments and
   * records them, `updateSlots` commits the listed slots (a split's layers, once its graph has run,
   * while the next split runs), `endUpdate` commits what is left and sets the new count. Until then
   * `nValid` is the count before the update, and every other change to the cache throws (finish or
   * `abortUpdate` first). Nothing allocates.
   */
  beginUpdate(nValid: number, nNew: number, srcOffset = 0): void {
    this.checkNotStaged('beginUpdate');
    this.checkUpdate(nValid, nNew, srcOffset);
    this.staged.fill(0);
    this.stagedLeft = this.keys.length;
    this.stagedNValid = nValid;
    this.stagedNNew = nNew;
    this.stagedSrcOffset = srcOffset;
  }

  /** Commits the staged update for each slot in `slots` not committed yet (see `beginUpdate`). */
  updateSlots(slots: ArrayLike<number>): void {
    if (this.stagedLeft < 0) throw new InvalidArgumentError('updateSlots: no update was begun (beginUpdate)');
    for (let i = 0; i < slots.length; i++) {
      const s = slots[i];
      checkInteger(`slots[${i}]`, s, 0, this.keys.length - 1);
      if (this.staged[s] !== 0) continue;
      this.updateSlot(s, this.stagedNValid, this.stagedNNew, this.stagedSrcOffset);
      this.staged[s] = 1;
      this.stagedLeft--;
    }
  }

  /** Commits the slots the staged update has not reached and ends it: the cache holds `nValid + nNew` entries. */
  endUpdate(): void {
    if (this.stagedLeft < 0) throw new InvalidArgumentError('endUpdate: no update was begun (beginUpdate)');
    for (let s = 0; s < this.keys.length; s++) {
      if (this.staged[s] === 0) this.updateSlot(s, this.stagedNValid, this.stagedNNew, this.stagedSrcOffset);
    }
    this.count = this.stagedNValid + this.stagedNNew;
    this.stagedLeft = -1;
  }

  /**
   * Drops a staged update (the step that produced it failed): the slots it already committed get the
   * clear value back from the first new entry on, so the cache holds exactly what it held before.
   * No-op when no update is staged. Only for an update at the current count (`nValid` = `this.nValid`).
   */
  abortUpdate(): void {
    if (this.stagedLeft < 0) return;
    const from = this.stagedNValid;
    const pastDim = this.pastDim;
    const end = Math.min(pastDim, Math.max(from + this.stagedNNew, this.mode === 'scatter' ? from + this.arValue : 0));
    for (let s = 0; s < this.keys.length; s++) {
      if (this.staged[s] === 0) continue;
      const heads = this.heads[s];
      const hd = this.headDims[s];
      fillRowSpans(this.keys[s], heads * hd, pastDim, from, end, this.clearValue);
      fillRowSpans(this.values[s], heads, pastDim * hd, from * hd, end * hd, this.clearValue);
    }
    this.stagedLeft = -1;
  }

  /** An update is staged (`beginUpdate` ran, `endUpdate` or `abortUpdate` not yet). */
  get updating(): boolean {
    return this.stagedLeft >= 0;
  }

  private checkUpdate(nValid: number, nNew: number, srcOffset: number): void {
    const ar = this.arValue;
    const pastDim = this.pastDim;
    checkInteger('nValid', nValid, 0, this.count);
    checkInteger('nNew', nNew, 0, ar);
    if (this.mode === 'scatter') checkInteger('srcOffset (scatter mode)', srcOffset, 0, 0);
    else checkInteger('srcOffset', srcOffset, 0, ar - nNew);
    if (nValid + nNew > pastDim) {
      throw new InvalidArgumentError(
        `nValid + nNew = ${nValid} + ${nNew} = ${nValid + nNew} exceeds the KV-in capacity ${pastDim} ` +
          `(${this.mode === 'concat' ? `CL - AR = ${this.contextLength} - ${ar}` : `CL = ${this.contextLength}`})`,
      );
    }
  }

  /** `update`'s work for slot `s` (arguments checked); the count is the caller's to set. */
  private updateSlot(s: number, nValid: number, nNew: number, srcOffset: number): void {
    const ar = this.arValue;
    const pastDim = this.pastDim;
    const end = nValid + nNew;
    const stale = this.mode === 'scatter' ? Math.max(this.count, Math.min(nValid + ar, pastDim)) : this.count;
    const heads = this.heads[s];
    const hd = this.headDims[s];
    const kRows = heads * hd;
    const key = this.keys[s];
    const value = this.values[s];
    if (this.mode === 'concat') {
      copyRowSpans(key, kRows, pastDim, nValid, kRows * pastDim, ar, srcOffset, nNew);
      copyRowSpans(value, heads, pastDim * hd, nValid * hd, heads * pastDim * hd, ar * hd, srcOffset * hd, nNew * hd);
    }
    fillRowSpans(key, kRows, pastDim, end, stale, this.clearValue);
    fillRowSpans(value, heads, pastDim * hd, end * hd, stale * hd, this.clearValue);
  }

  /** Every change but the staged update's own steps waits for it to end. */
  private checkNotStaged(what: string): void {
    if (this.stagedLeft >= 0) {
      throw new InvalidArgumentError(`${what}: a staged update (beginUpdate) is not finished; call endUpdate or abortUpdate first`);
    }
  }

  /** Switches to another AR variant at the same CL: `setShape(contextLength, ar)`. */
  setVariant(ar: number): void {
    this.setShape(this.clValue, ar);
  }

  /**
   * Switches to the variant (cl, ar), CL and AR together (Genie's `reshapeCache`). The past dim goes
   * from the old to the new `CL - AR` (concat) or CL (scatter); when it changes, every K row and V
   * block is re-laid in place keeping its nValid entries. Afterwards every element of each region
   * that is not a valid entry holds the clear value, the new KV-out and whatever lies beyond the
   * new layout included, so the slots are clear for any later CL. Throws, changing nothing, if the
   * new KV-in cannot hold the cache.
   */
  setShape(cl: number, ar: number): void {
    this.checkNotStaged('setShape');
    checkInteger('cl', cl, this.mode === 'concat' ? 2 : 1, this.maxContextLength);
    checkArVariant(this.mode, cl, ar);
    const newPast = pastDimOf(this.mode, cl, ar);
    if (this.count > newPast) {
      throw new InvalidArgumentError(
        `cl ${cl}, ar ${ar} cannot hold the cache: nValid ${this.count} > ` +
          (this.mode === 'concat' ? `CL - AR = ${cl} - ${ar} = ${newPast}` : `CL = ${cl}`),
      );
    }
    if (cl === this.clValue && ar === this.arValue) return;
    const oldPast = this.pastDim;
    for (let s = 0; s < this.keys.length; s++) {
      const heads = this.heads[s];
      const hd = this.headDims[s];
      const key = this.keys[s];
      const value = this.values[s];
      if (newPast !== oldPast) {
        restrideRows(key, heads * hd, oldPast, newPast, this.count, this.clearValue);
        restrideRows(value, heads, oldPast * hd, newPast * hd, this.count * hd, this.clearValue);
      }
      key.fill(this.clearValue, heads * hd * newPast);
      value.fill(this.clearValue, heads * newPast * hd);
    }
    this.clValue = cl;
    this.arValue = ar;
  }

  /** Rewinds to the first `n` entries, clearing slots [n, nValid). */
  truncate(n: number): void {
    this.checkNotStaged('truncate');
    checkInteger('n', n, 0, this.count);
    const pastDim = this.pastDim;
    for (let s = 0; s < this.keys.length; s++) {
      const heads = this.heads[s];
      const hd = this.headDims[s];
      fillRowSpans(this.keys[s], heads * hd, pastDim, n, this.count, this.clearValue);
      fillRowSpans(this.values[s], heads, pastDim * hd, n * hd, this.count * hd, this.clearValue);
    }
    this.count = n;
  }

  /**
   * Drops the entries in `slots` (strictly ascending, each < nValid) and moves the later ones down in
   * place, keeping their order, so the cache stays left-aligned; the freed tail gets the clear value.
   * Entries keep the values (and so the RoPE positions) they were computed with. Nothing allocates.
   */
  evict(slots: ArrayLike<number>): void {
    this.checkNotStaged('evict');
    const count = this.count;
    for (let i = 0; i < slots.length; i++) {
      const slot = slots[i];
      if (!Number.isInteger(slot) || slot < 0 || slot >= count) {
        throw new InvalidArgumentError(`slots[${i}] = ${slot} is not a cached slot in [0, ${count})`);
      }
      if (i > 0 && slot <= slots[i - 1]) {
        throw new InvalidArgumentError(`slots must be strictly ascending: slots[${i}] = ${slot} follows ${slots[i - 1]}`);
      }
    }
    if (slots.length === 0) return;
    // The kept entries after the first evicted slot, as runs of consecutive slots: each run moves
    // down with one memmove per K row and per V head (a sliding window's eviction is one run).
    const runs = this.runs;
    let nRuns = 0;
    let n = slots[0];
    for (let slot = slots[0], e = 0; slot < count; ) {
      if (e < slots.length && slots[e] === slot) {
        e++;
        slot++;
        continue;
      }
      const end = e < slots.length ? slots[e] : count;
      runs[3 * nRuns] = slot;
      runs[3 * nRuns + 1] = n;
      runs[3 * nRuns + 2] = end - slot;
      nRuns++;
      n += end - slot;
      slot = end;
    }
    const pastDim = this.pastDim;
    for (let s = 0; s < this.keys.length; s++) {
      const heads = this.heads[s];
      const hd = this.headDims[s];
      const key = this.keys[s];
      const value = this.values[s];
      for (let row = 0, base = 0; row < heads * hd; row++, base += pastDim) {
        for (let r = 0; r < nRuns; r++) {
          const src = base + runs[3 * r];
          key.copyWithin(base + runs[3 * r + 1], src, src + runs[3 * r + 2]);
        }
      }
      for (let h = 0, base = 0; h < heads; h++, base += pastDim * hd) {
        for (let r = 0; r < nRuns; r++) {
          const src = base + runs[3 * r] * hd;
          value.copyWithin(base + runs[3 * r + 1] * hd, src, src + runs[3 * r + 2] * hd);
        }
      }
      fillRowSpans(key, heads * hd, pastDim, n, count, this.clearValue);
      fillRowSpans(value, heads, pastDim * hd, n * hd, count * hd, this.clearValue);
    }
    this.count = n;
  }

  /** The typed array class of every KV buffer (the stored encoding's element type). */
  get elementType(): new (length: number) => ElementArray {
    return this.keys[0].constructor as new (length: number) => ElementArray;
  }

  /** KV slots (tensor pairs). */
  get slotCount(): number {
    return this.keys.length;
  }

  /** Elements of one packed entry set of slot `s`: `heads * headDim * n` (key and value alike). */
  packedLength(s: number, n: number): number {
    return this.heads[s] * this.headDims[s] * n;
  }

  /**
   * Copies the `nValid` entries of slot `s` out, packed (no past-dim padding), in the stored element
   * type: key `(heads, head_dim, nValid)`, value `(heads, nValid, head_dim)`.
   */
  readEntries(s: number): { key: ElementArray; value: ElementArray } {
    this.checkNotStaged('readEntries');
    checkInteger('slot', s, 0, this.keys.length - 1);
    const n = this.count;
    const pastDim = this.pastDim;
    const heads = this.heads[s];
    const hd = this.headDims[s];
    const src = this.keys[s];
    const ctor = src.constructor as new (length: number) => ElementArray;
    const key = new ctor(heads * hd * n);
    const value = new ctor(heads * hd * n);
    for (let row = 0; row < heads * hd; row++) key.set(src.subarray(row * pastDim, row * pastDim + n), row * n);
    const vsrc = this.values[s];
    for (let h = 0; h < heads; h++) value.set(vsrc.subarray(h * pastDim * hd, h * pastDim * hd + n * hd), h * n * hd);
    return { key, value };
  }

  /**
   * Replaces the cache with `n` entries per slot (packed as `readEntries` gives them) on the variant
   * (cl, ar). Everything is checked before anything changes.
   */
  loadEntries(cl: number, ar: number, n: number, entries: readonly { key: ElementArray; value: ElementArray }[]): void {
    this.checkNotStaged('loadEntries');
    checkInteger('cl', cl, this.mode === 'concat' ? 2 : 1, this.maxContextLength);
    checkArVariant(this.mode, cl, ar);
    const pastDim = pastDimOf(this.mode, cl, ar);
    checkInteger('n', n, 0, pastDim);
    if (entries.length !== this.keys.length) throw new InvalidArgumentError(`entries must list ${this.keys.length} slots, got ${entries.length}`);
    entries.forEach((e, s) => {
      const expected = this.heads[s] * this.headDims[s] * n;
      for (const part of ['key', 'value'] as const) {
        if (e[part].constructor !== this.keys[s].constructor || e[part].length !== expected) {
          throw new InvalidArgumentError(
            `entries[${s}].${part} must be a ${this.keys[s].constructor.name} of ${expected} elements, got a ${e[part].constructor.name} of ${e[part].length}`,
          );
        }
      }
    });
    this.clear();
    this.clValue = cl;
    this.arValue = ar;
    for (let s = 0; s < this.keys.length; s++) {
      const heads = this.heads[s];
      const hd = this.headDims[s];
      const { key, value } = entries[s];
      for (let row = 0; row < heads * hd; row++) this.keys[s].set(key.subarray(row * n, row * n + n), row * pastDim);
      for (let h = 0; h < heads; h++) this.values[s].set(value.subarray(h * n * hd, (h + 1) * n * hd), h * pastDim * hd);
    }
    this.count = n;
  }

  /** Empties the cache: every element of every buffer (KV-out included) becomes the clear value; a staged update is dropped. */
  clear(): void {
    this.stagedLeft = -1;
    for (let s = 0; s < this.keys.length; s++) {
      this.keys[s].fill(this.clearValue);
      this.values[s].fill(this.clearValue);
    }
    this.count = 0;
  }
}

function pastDimOf(mode: KvMode, cl: number, ar: number): number {
  return mode === 'concat' ? cl - ar : cl;
}

function checkArVariant(mode: KvMode, contextLength: number, ar: number): void {
  // A concat graph with AR == CL has no past (no KV input), so it cannot use this cache.
  checkInteger('ar', ar, 1, mode === 'concat' ? contextLength - 1 : contextLength);
}

function checkSlot(slot: KvSlot, i: number, maxContextLength: number, reference: ElementArray): void {
  checkInteger(`slots[${i}].heads`, slot.heads, 1, 2 ** 16);
  checkInteger(`slots[${i}].headDim`, slot.headDim, 1, 2 ** 16);
  const expected = slot.heads * slot.headDim * maxContextLength;
  for (const part of ['key', 'value'] as const) {
    const array = slot[part];
    if (array.constructor !== reference.constructor) {
      throw new InvalidArgumentError(
        `slots[${i}].${part} is a ${array.constructor.name} but slots[0].key is a ${reference.constructor.name}; ` +
          'all KV buffers must share one element type',
      );
    }
    if (array.length !== expected) {
      throw new InvalidArgumentError(
        `slots[${i}].${part} has ${array.length} elements, expected heads * headDim * maxContextLength = ` +
          `${slot.heads} * ${slot.headDim} * ${maxContextLength} = ${expected}`,
      );
    }
  }
}

/** Two slots sharing memory would corrupt each other on every operation. */
function checkNoOverlap(slots: readonly KvSlot[]): void {
  const arrays: { name: string; array: ElementArray }[] = [];
  slots.forEach((slot, i) => arrays.push({ name: `slots[${i}].key`, array: slot.key }, { name: `slots[${i}].value`, array: slot.value }));
  for (let a = 0; a < arrays.length; a++) {
    for (let b = a + 1; b < arrays.length; b++) {
      const x = arrays[a].array;
      const y = arrays[b].array;
      if (x.buffer === y.buffer && x.byteOffset < y.byteOffset + y.byteLength && y.byteOffset < x.byteOffset + x.byteLength) {
        throw new InvalidArgumentError(`${arrays[b].name} overlaps ${arrays[a].name}; every KV buffer needs its own memory`);
      }
    }
  }
}

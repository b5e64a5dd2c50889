import { InvalidArgumentError } from '../errors.js';

/** Entries a journal holds at most before it forgets its oldest (longer dialogs slide a KV window). */
const MAX_ENTRIES = 1 << 16;

/** A journal's contents: the state below its first entry, then per entry its key and state (`stride` numbers each). */
export interface StageJournalState {
  readonly base: readonly number[];
  readonly keys: readonly number[];
  readonly states: readonly number[];
}

/**
 * The stages' state after each sampled token, keyed by the history length that token made: a rewind
 * to a history of `length` tokens takes the state of the last entry at or below it, so the stages
 * continue as they were when the conversation was that long. Keys only grow between rewinds. Storage
 * doubles when full (amortised: never per token), up to `MAX_ENTRIES`; past that the oldest entry
 * becomes the base.
 */
export class StageJournal {
  /** The state below the first entry (after a reset or a restore). */
  readonly base: Float64Array;
  private keys = new Float64Array(0);
  private states = new Float64Array(0);
  /** Ring position of the oldest entry, and how many there are. */
  private head = 0;
  private size = 0;

  constructor(readonly stride: number) {
    this.base = new Float64Array(stride);
  }

  get length(): number {
    return this.size;
  }

  /** Forgets every entry; the base is the caller's to write. */
  clear(): void {
    this.head = 0;
    this.size = 0;
  }

  /**
   * Appends an entry for `key` (above the last one) and returns the offset in `data` where the caller
   * writes its state (`stride` numbers).
   */
  append(key: number): number {
    const capacity = this.keys.length;
    if (this.size === capacity && capacity < MAX_ENTRIES) this.grow();
    if (this.size === this.keys.length) {
      // Full at its largest: the oldest entry becomes the base.
      this.base.set(this.states.subarray(this.head * this.stride, (this.head + 1) * this.stride));
      this.head = (this.head + 1) % this.keys.length;
      this.size--;
    }
    const slot = (this.head + this.size) % this.keys.length;
    this.keys[slot] = key;
    this.size++;
    return slot * this.stride;
  }

  /** The storage `append` and `rewind` offsets point into (replaced when it grows: read it after them). */
  get data(): Float64Array {
    return this.states;
  }

  /**
   * Drops the entries above `length` and returns the offset in `data` of the state in force at that
   * length, or -1 for the base.
   */
  rewind(length: number): number {
    while (this.size > 0 && this.keys[this.slotOf(this.size - 1)] > length) this.size--;
    return this.size === 0 ? -1 : this.slotOf(this.size - 1) * this.stride;
  }

  /** A copy of the contents, oldest entry first. */
  snapshot(): StageJournalState {
    const keys: number[] = [];
    const states: number[] = [];
    for (let i = 0; i < this.size; i++) {
      const slot = this.slotOf(i);
      keys.push(this.keys[slot]);
      for (let k = 0; k < this.stride; k++) states.push(this.states[slot * this.stride + k]);
    }
    return { base: Array.from(this.base), keys, states };
  }

  /** Checks a `snapshot` against this journal's stride (`path` names it in errors). */
  check(state: StageJournalState, path: string): void {
    const { base, keys, states } = state ?? ({} as StageJournalState);
    if (!Array.isArray(base) || base.length !== this.stride) throw new InvalidArgumentError(`${path}.base must be an array of ${this.stride} numbers`);
    if (!Array.isArray(keys) || keys.length > MAX_ENTRIES) throw new InvalidArgumentError(`${path}.keys must be an array of at most ${MAX_ENTRIES} history lengths`);
    keys.forEach((key, i) => {
      if (!Number.isSafeInteger(key) || key < 1 || (i > 0 && key <= keys[i - 1])) {
        throw new InvalidArgumentError(`${path}.keys[${i}] = ${JSON.stringify(key)} is not a history length >= 1 above the one before`);
      }
    });
    if (!Array.isArray(states) || states.length !== keys.length * this.stride) {
      throw new InvalidArgumentError(`${path}.states must hold ${this.stride} numbers per key (${keys.length * this.stride}), got ${Array.isArray(states) ? states.length : String(states)}`);
    }
    for (const [name, list] of [['base', base], ['states', states]] as const) {
      list.forEach((v, i) => {
        if (typeof v !== 'number') throw new InvalidArgumentError(`${path}.${name}[${i}] must be a number, got ${JSON.stringify(v)}`);
      });
    }
  }

  /** Replaces the contents with a checked `snapshot`. */
  restore(state: StageJournalState): void {
    this.base.set(state.base);
    this.clear();
    const n = state.keys.length;
    if (this.keys.length < n) {
      let capacity = Math.max(16, this.keys.length);
      while (capacity < n) capacity *= 2;
      this.keys = new Float64Array(capacity);
      this.states = new Float64Array(capacity * this.stride);
    }
    for (let i = 0; i < n; i++) {
      this.keys[i] = state.keys[i];
      for (let k = 0; k < this.stride; k++) this.states[i * this.stride + k] = state.states[i * this.stride + k];
    }
    this.size = n;
  }

  private slotOf(i: number): number {
    return (this.head + i) % this.keys.length;
  }

  private grow(): void {
    const capacity = Math.min(MAX_ENTRIES, Math.max(16, this.keys.length * 2));
    const keys = new Float64Array(capacity);
    const states = new Float64Array(capacity * this.stride);
    for (let i = 0; i < this.size; i++) {
      const slot = this.slotOf(i);
      keys[i] = this.keys[slot];
      states.set(this.states.subarray(slot * this.stride, (slot + 1) * this.stride), i * this.stride);
    }
    this.keys = keys;
    this.states = states;
    this.head = 0;
  }
}

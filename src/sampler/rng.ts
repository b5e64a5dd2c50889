import seedrandom from 'seedrandom';
import { InvalidArgumentError } from '../errors.js';

/** seedrandom's ARC4 state, in its own `{i, j, S}` shape: what a dialog saves to replay the exact sequence. */
export interface RngState {
  readonly i: number;
  readonly j: number;
  readonly S: readonly number[];
}

/**
 * seedrandom's default generator (ARC4, RC4-drop[256]) seeded with a uint32, producing the same doubles as
 * `seedrandom(String(seed))()`. seedrandom does the key schedule; the per-draw steps are redone here over a
 * Uint8Array because seedrandom's closures return heap-allocated doubles whenever V8 does not inline them.
 */
export class SeededRng {
  private readonly s = new Uint8Array(256);
  private i = 0;
  private j = 0;

  constructor(seed: number) {
    this.reseed(seed);
  }

  reseed(seed: number): void {
    this.load(seedrandom(String(seed), { state: true }).state());
  }

  /**
   * Writes the next uniform double in [0, 1) into `out[index]`, with seedrandom's construction: 48 bits
   * from six bytes, more bytes until 52 significant bits, then exact halving. An out-parameter, because a
   * returned double is boxed when the call is not inlined.
   */
  nextInto(out: Float64Array, index: number): void {
    let n = this.byte() * 0x10000000000 + this.byte() * 0x100000000 + this.byte() * 0x1000000;
    n += this.byte() * 0x10000 + this.byte() * 0x100 + this.byte();
    let d = 0x1000000000000;
    let x = 0;
    while (n < 0x10000000000000) {
      n = (n + x) * 256;
      d *= 256;
      x = this.byte();
    }
    while (n >= 0x20000000000000) {
      n /= 2;
      d /= 2;
      x >>>= 1;
    }
    out[index] = (n + x) / d;
  }

  getState(): RngState {
    return { i: this.i, j: this.j, S: Array.from(this.s) };
  }

  setState(state: RngState): void {
    checkState(state);
    this.load(state);
  }

  private load(state: RngState): void {
    this.s.set(state.S);
    this.i = state.i;
    this.j = state.j;
  }

  /** One RC4 output byte. */
  private byte(): number {
    const s = this.s;
    const i = (this.i + 1) & 255;
    const t = s[i];
    const j = (this.j + t) & 255;
    s[i] = s[j];
    s[j] = t;
    this.i = i;
    this.j = j;
    return s[(s[i] + t) & 255];
  }
}

function checkState(state: RngState): void {
  if (typeof state !== 'object' || state === null) {
    throw new InvalidArgumentError(`rng state must be an object {i, j, S}, got ${String(state)}`);
  }
  for (const key of ['i', 'j'] as const) {
    const v = state[key];
    if (!Number.isInteger(v) || v < 0 || v > 255) {
      throw new InvalidArgumentError(`rng state.${key} must be an integer in [0, 255], got ${String(v)}`);
    }
  }
  const { S } = state;
  if (!Array.isArray(S) || S.length !== 256) {
    const got = Array.isArray(S) ? `length ${S.length}` : String(S);
    throw new InvalidArgumentError(`rng state.S must be an array of 256 entries, got ${got}`);
  }
  const seen = new Uint8Array(256);
  for (let k = 0; k < 256; k++) {
    const v: unknown = S[k];
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > 255 || seen[v]) {
      throw new InvalidArgumentError(`rng state.S must be a permutation of 0..255; entry ${k} is ${String(v)}`);
    }
    seen[v] = 1;
  }
}

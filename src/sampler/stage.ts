import type { Candidates } from './candidates.js';
import type { SamplerParams } from './params.js';
import type { SeededRng } from './rng.js';
import type { TokenHistory } from './token-history.js';

/** What a stage sees besides the candidates. The same object every step (read it, do not keep it). */
export interface StageContext {
  /** Steps the chain sampled since it was built or reset (0 for the first). */
  readonly step: number;
  /** The dialog's tokens so far, prompt included (absent when the caller samples without one). */
  readonly history: TokenHistory | undefined;
  /** The dialog's seeded RNG, the one the draw uses: what a stage takes from it is replayed by the seed. */
  readonly rng: SeededRng;
  /** The sampler parameters in force (`configureSampler` changes them between steps). */
  readonly params: SamplerParams;
}

/**
 * One stage of a sampler chain (llama.cpp's `llama_sampler`): `apply` edits the candidates (filters
 * shrink the set, transforms change logits or the temperature, a final stage may `select`);
 * `accept` hears the token the chain chose; `reset` forgets per-dialog state (a dialog's `reset()`).
 * Stages run in chain order every step; the draw ends the chain unless a stage selected.
 */
export interface SamplerStage {
  /** Shown in errors and `Sampler.stageNames`. */
  readonly name: string;
  apply(candidates: Candidates, context: StageContext): void;
  accept?(token: number, context: StageContext): void;
  reset?(): void;
  /**
   * How many numbers of per-dialog state the stage keeps (mirostat's `mu`), for a stage that keeps
   * any: with `writeState` and `readState`, a dialog's checkpoint, save and restore carry them, and a
   * rewind (a REWIND query's cut, dropped stop-sequence tokens) brings back their values at that point
   * of the conversation. Without them, nothing a stage keeps survives a restore.
   */
  readonly stateSize?: number;
  /** Writes the state into `out[offset, offset + stateSize)`; runs after every step of a dialog, so it allocates nothing. */
  writeState?(out: Float64Array, offset: number): void;
  /** Takes back a state `writeState` wrote (throws for values it cannot hold; the sampler then puts the old state back). */
  readState?(from: Float64Array, offset: number): void;
}

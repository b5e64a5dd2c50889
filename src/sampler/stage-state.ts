import { InvalidArgumentError } from '../errors.js';
import type { SamplerStage } from './stage.js';
import { StageJournal, type StageJournalState } from './stage-journal.js';

/** A chain's per-dialog state, as checkpoints and saves hold it (`Sampler.getStageState`). */
export interface SamplerStageState {
  /** Steps the chain sampled (the stage context's `step`). */
  readonly step: number;
  /** The stages that keep state, in chain order, with their sizes: what a restore checks its chain against. */
  readonly stages: readonly { readonly name: string; readonly size: number }[];
  /** Their state now, concatenated in that order. */
  readonly state: readonly number[];
  /** Their state after each sampled token, for rewinds (null when no stage keeps state). */
  readonly journal: StageJournalState | null;
}

type StatefulStage = SamplerStage & Required<Pick<SamplerStage, 'stateSize' | 'writeState' | 'readState'>>;

/** A stage that keeps state (chain.ts checks that a stage with `stateSize` has both methods). */
function isStateful(stage: SamplerStage): stage is StatefulStage {
  return (stage.stateSize ?? 0) > 0;
}

/**
 * The state of a chain's stateful stages (`SamplerStage.stateSize`): written after each sampled token
 * into a journal keyed by the history length, so that a rewind takes back the state of that point;
 * snapshots for checkpoints and saves. The step counter is not rewound: like the RNG (which Genie keeps
 * across a REWIND), it counts draws, not the conversation.
 */
export class ChainState {
  private readonly stages: readonly StatefulStage[];
  private readonly sizes: readonly number[];
  private readonly journal: StageJournal | null;
  private readonly scratch: Float64Array;

  constructor(chain: readonly SamplerStage[]) {
    this.stages = chain.filter(isStateful);
    this.sizes = this.stages.map((stage) => stage.stateSize);
    const stride = this.sizes.reduce((a, b) => a + b, 0);
    this.journal = stride > 0 ? new StageJournal(stride) : null;
    this.scratch = new Float64Array(stride);
    this.restart();
  }

  /** After the stages' reset (or construction): their state is the base, no entries. */
  restart(): void {
    if (this.journal === null) return;
    this.journal.clear();
    this.write(this.journal.base, 0);
  }

  /** After a sampled token made the history `length` tokens long. */
  record(length: number): void {
    const journal = this.journal;
    if (journal === null) return;
    const offset = journal.append(length);
    this.write(journal.data, offset);
  }

  /** The history was cut to `length` tokens: the stages take the state they had then. */
  rewind(length: number): void {
    const journal = this.journal;
    if (journal === null) return;
    const offset = journal.rewind(length);
    if (offset < 0) this.read(journal.base, 0);
    else this.read(journal.data, offset);
  }

  snapshot(step: number): SamplerStageState {
    this.write(this.scratch, 0);
    return {
      step,
      stages: this.stages.map((stage, i) => ({ name: stage.name, size: this.sizes[i] })),
      state: Array.from(this.scratch),
      journal: this.journal === null ? null : this.journal.snapshot(),
    };
  }

  /**
   * Puts a `snapshot` back (`path` names it in errors); checks it whole first, and on a stage's
   * refusal puts every stage's state back as it was.
   */
  restore(state: SamplerStageState, path: string): void {
    this.check(state, path);
    const previous = this.journal === null ? null : this.journal.snapshot();
    const current = new Float64Array(this.scratch.length);
    this.write(current, 0);
    try {
      this.read(Float64Array.from(state.state), 0);
    } catch (cause) {
      this.read(current, 0);
      throw new InvalidArgumentError(`${path}.state: ${(cause as Error).message}`, { cause });
    }
    if (this.journal !== null) this.journal.restore(state.journal ?? (previous as StageJournalState));
  }

  /** Checks a snapshot's shape against this chain (not the stages' own limits on their values). */
  check(state: SamplerStageState, path: string): void {
    if (typeof state !== 'object' || state === null) throw new InvalidArgumentError(`${path} must be an object {step, stages, state, journal}`);
    if (!Number.isSafeInteger(state.step) || state.step < 0) throw new InvalidArgumentError(`${path}.step must be an integer >= 0, got ${JSON.stringify(state.step)}`);
    const mine = this.stages.map((stage, i) => `${stage.name}:${this.sizes[i]}`).join(', ');
    const theirs = Array.isArray(state.stages) ? state.stages.map((s) => `${String(s?.name)}:${String(s?.size)}`).join(', ') : null;
    if (theirs !== mine) {
      throw new InvalidArgumentError(`${path}.stages [${theirs ?? String(state.stages)}] are not this chain's stateful stages [${mine}] (name:size)`);
    }
    if (!Array.isArray(state.state) || state.state.length !== this.scratch.length || state.state.some((v) => typeof v !== 'number')) {
      throw new InvalidArgumentError(`${path}.state must be an array of ${this.scratch.length} numbers`);
    }
    if (this.journal === null) {
      if (state.journal !== null) throw new InvalidArgumentError(`${path}.journal must be null: no stage of this chain keeps state`);
    } else this.journal.check(state.journal as StageJournalState, `${path}.journal`);
  }

  private write(out: Float64Array, offset: number): void {
    for (let i = 0; i < this.stages.length; i++) {
      this.stages[i].writeState(out, offset);
      offset += this.sizes[i];
    }
  }

  private read(from: Float64Array, offset: number): void {
    for (let i = 0; i < this.stages.length; i++) {
      this.stages[i].readState(from, offset);
      offset += this.sizes[i];
    }
  }
}

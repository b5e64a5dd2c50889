import type { SamplerParams } from '../../sampler/params.js';
import type { RngState } from '../../sampler/rng.js';
import type { SamplerStageState } from '../../sampler/stage-state.js';
import { DialogBusyError, type DialogState } from '../dialog-state.js';
import type { LedgerState } from '../turn-ledger.js';
import { StaleCheckpointError } from './errors.js';

/**
 * A point of a dialog's conversation to come back to with `rewindTo`: opaque, cheap (the KV entries
 * stay in the cache; it holds the ledger, the entry count and next position, the RNG state, the
 * sampler params and the stages' state). Valid while its entries are still the first entries of the cache.
 */
export interface DialogCheckpoint {
  /** KV entries held when it was taken. */
  readonly contextUsed: number;
}

interface CheckpointData {
  readonly owner: DialogState;
  readonly ledger: LedgerState;
  /** The stamp of the last entry held (0 with none): the same stamp in that slot means the same entries. */
  readonly lastStamp: number;
  readonly position: number;
  readonly rng: RngState;
  readonly params: SamplerParams;
  readonly stages: SamplerStageState;
}

const data = new WeakMap<DialogCheckpoint, CheckpointData>();

/** The dialog must have no query (running or parked at a yield): its state is between turns. */
export function checkBetweenQueries(state: DialogState): void {
  state.checkUsable();
  if (state.running !== null) throw new DialogBusyError();
  if (state.ledger.entries !== state.engine.nValid) {
    throw new Error(`internal: the turn ledger holds ${state.ledger.entries} KV entries but the engine ${state.engine.nValid}`);
  }
}

export function takeCheckpoint(state: DialogState): DialogCheckpoint {
  checkBetweenQueries(state);
  const { ledger, engine, sampler } = state;
  const n = engine.nValid;
  const checkpoint: DialogCheckpoint = Object.freeze({ contextUsed: n });
  data.set(checkpoint, {
    owner: state,
    ledger: ledger.snapshot(),
    lastStamp: n === 0 ? 0 : ledger.stampAt(n - 1),
    position: engine.position,
    rng: sampler.getState(),
    params: sampler.params,
    stages: sampler.getStageState(),
  });
  return checkpoint;
}

/**
 * Brings the dialog back to `checkpoint`: the KV cache cut back to its entries, the ledger (carried-over
 * token, penalty history), next position, RNG state, sampler params and stage state as they were.
 * Checks everything first; on an error the dialog is unchanged.
 * @throws StaleCheckpointError, DialogBusyError, InvalidArgumentError (not a checkpoint)
 */
export function rewindToCheckpoint(state: DialogState, checkpoint: DialogCheckpoint): void {
  checkBetweenQueries(state);
  const cp = data.get(checkpoint);
  if (cp === undefined) throw new StaleCheckpointError('rewindTo takes a checkpoint from dialog.checkpoint(), got something else');
  if (cp.owner !== state) throw new StaleCheckpointError('rewindTo: the checkpoint was taken on another dialog');
  const { ledger, engine, sampler } = state;
  const n = cp.ledger.entries.length;
  const held = Math.min(engine.nValid, ledger.entries);
  if (n > held || (n > 0 && ledger.stampAt(n - 1) !== cp.lastStamp)) {
    throw new StaleCheckpointError(
      `rewindTo: the checkpoint's ${n} KV entries are no longer the first entries of the cache ` +
        `(it holds ${engine.nValid}; a reset, a rewind below the checkpoint or a restore replaced them)`,
    );
  }
  const stamps = Array.from({ length: n }, (_, i) => ledger.stampAt(i));
  sampler.checkStageState(cp.stages); // a custom stage may refuse its own state: before anything moves
  engine.rewind(n);
  if (engine.position !== cp.position) engine.setPosition(cp.position);
  ledger.restore(cp.ledger, stamps);
  sampler.configure(cp.params);
  sampler.setState(cp.rng);
  sampler.setStageState(cp.stages);
}

import { GenieError } from '../../errors.js';

/**
 * A save folder that cannot be restored: missing, not a folder, not a genie-ts save, an unknown
 * format version, or a file that is missing, truncated, corrupt or inconsistent. `file` names the
 * file (and the message the key) at fault. The dialog is unchanged.
 */
export class SaveFormatError extends GenieError {
  constructor(readonly file: string, message: string, options?: { cause?: unknown }) {
    super('SAVE_INVALID', message, options);
  }
}

/** `save` could not write its folder (`path`): the file system's error is the `cause`. Nothing was replaced. */
export class SaveWriteError extends GenieError {
  constructor(readonly path: string, message: string, options?: { cause?: unknown }) {
    super('SAVE_WRITE', message, options);
  }
}

/**
 * A save of another model: `key` is the first entry of the model identity (graph specs, encodings,
 * context size, vocabulary, KV layout) that differs. The dialog is unchanged.
 */
export class SaveModelMismatchError extends GenieError {
  constructor(readonly key: string, message: string) {
    super('SAVE_MODEL_MISMATCH', message);
  }
}

/**
 * `rewindTo` a checkpoint the dialog cannot go back to: taken by another dialog, or whose KV entries
 * are no longer a prefix of the cache (a reset, a rewind below it, or a restore since). The dialog is
 * unchanged.
 */
export class StaleCheckpointError extends GenieError {
  constructor(message: string) {
    super('CHECKPOINT_STALE', message);
  }
}

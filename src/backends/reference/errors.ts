import { GenieError } from '../../errors.js';

/** A reference ctx-bin's metadata or weights do not describe a runnable model; names file and key. */
export class CtxBinError extends GenieError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('BAD_CTX_BIN', message, options);
  }
}

/** A Hugging Face checkpoint folder (config.json + safetensors) is incomplete or inconsistent. */
export class CheckpointError extends GenieError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('BAD_CHECKPOINT', message, options);
  }
}

/** `execute` of a graph whose IO was never bound. */
export class GraphNotBoundError extends GenieError {
  constructor(message: string) {
    super('GRAPH_NOT_BOUND', message);
  }
}

/** Any call on a backend after `dispose`. */
export class BackendDisposedError extends GenieError {
  constructor(message: string) {
    super('DISPOSED', message);
  }
}

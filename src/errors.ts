/**
 * The typed errors every layer throws. Callers branch on the class (or `code`), never on message text;
 * messages name the offending path/key/value so a human can act on them.
 */

/**
 * Every `GenieError.code`, grouped by the layer that throws it. A code names a kind of failure, so
 * several classes share one (`BUSY`: a dialog, an engine, an image encoder; `DISPOSED`: anything
 * used after `dispose`); a `switch (error.code)` over `GenieErrorCode` is checked for exhaustiveness.
 */
export const GENIE_ERROR_CODES = [
  // any layer
  'INVALID_ARGUMENT', 'NOT_SUPPORTED', 'INVALID_STATE', 'BUSY', 'DISPOSED', 'ABORTED', 'CALLBACK_FAILED', 'FILE_TOO_LARGE',
  // config, tokenizer, chat template
  'INVALID_CONFIG', 'CONFIG_FILE', 'TOKENIZER_MISMATCH', 'CHAT_TEMPLATE',
  'TOKENIZER_NOT_FOUND', 'TOKENIZER_UNREADABLE', 'TOKENIZER_INVALID_JSON', 'TOKENIZER_INVALID',
  // model, graphs, queries
  'MODEL_LAYOUT', 'CONTEXT_LIMIT', 'BAD_GRAPH_SPEC_JSON', 'GRAPH_NOT_BOUND', 'EMBEDDING_TABLE', 'ACCUMULATOR_OVERFLOW', 'PIPELINE',
  'SAMPLER_CALLBACK', 'NOT_STARTED',
  // save/restore, trace
  'SAVE_INVALID', 'SAVE_WRITE', 'SAVE_MODEL_MISMATCH', 'CHECKPOINT_STALE', 'TRACE', 'TRACE_ALIGN',
  // files: safetensors, reference ctx-bins and checkpoints, export, demo
  'BAD_SAFETENSORS', 'BAD_CTX_BIN', 'BAD_CHECKPOINT', 'NO_SPACE', 'CALIBRATION_PROMPTS', 'DEMO_BUNDLE',
  // images
  'IMAGE_NOT_FOUND', 'IMAGE_UNREADABLE', 'IMAGE_EMPTY', 'IMAGE_CORRUPT', 'IMAGE_UNSUPPORTED_FORMAT', 'IMAGE_TOO_LARGE',
  'IMAGE_ANIMATED', 'PIXEL_TENSOR_SIZE', 'BAD_IMAGE_PROCESSOR_CONFIG',
  // QNN
  'QNN_ERROR', 'QNN_LIBRARY_NOT_FOUND', 'QNN_LIBRARY_LOAD', 'QNN_ENVIRONMENT', 'QNN_PROVIDER', 'QNN_FUNCTION_UNAVAILABLE', 'QNN_NOT_RUN',
  'BAD_EXTENSIONS',
  // CLI: bad flags, a file a flag names that cannot be read, or whose content is not what the flag takes
  'USAGE', 'FILE', 'INVALID_INPUT',
] as const;

export type GenieErrorCode = (typeof GENIE_ERROR_CODES)[number];

/** The base class of every error genie-ts throws on purpose; `code` says what kind of failure it is. */
export class GenieError extends Error {
  readonly code: GenieErrorCode;
  constructor(code: GenieErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }
}

/** An argument to a library function is out of range, of the wrong shape, or inconsistent with another. */
export class InvalidArgumentError extends GenieError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('INVALID_ARGUMENT', message, options);
  }
}

/** A valid request this project does not implement (yet), e.g. `dialog.type "lade"`. */
export class NotSupportedError extends GenieError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('NOT_SUPPORTED', message, options);
  }
}

/** An object (an engine, a dialog, a logits view) was used after `dispose()`, or disposed during the call it was running. */
export class DisposedError extends GenieError {
  constructor(what: string, detail?: string) {
    super('DISPOSED', `${what} is disposed${detail === undefined ? '' : `: ${detail}`}`);
  }
}

/** A Node.js system error (file system, network, ...): a string `code` such as `ENOENT` and the failed `syscall`. */
export function isSystemError(error: unknown): error is NodeJS.ErrnoException {
  return error instanceof Error && typeof (error as NodeJS.ErrnoException).code === 'string' && 'syscall' in error;
}

/** "ENOENT: no such file or directory, open '/x'" -> "ENOENT: no such file or directory"; other messages whole. */
export function systemErrorReason(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return /^(E[A-Z]+: [^,]+)/.exec(message)?.[1] ?? message;
}

/**
 * What a path is when it is not the regular file a reader wants ("a directory", "a character
 * device", ...), from its `fs.Stats`; readers refuse such paths before opening them (a FIFO would
 * block the open, a device such as /dev/zero never ends).
 */
export function fileTypeOf(stats: {
  isFile(): boolean;
  isDirectory(): boolean;
  isCharacterDevice(): boolean;
  isBlockDevice(): boolean;
  isFIFO(): boolean;
  isSocket(): boolean;
}): string {
  if (stats.isFile()) return 'a regular file';
  if (stats.isDirectory()) return 'a directory';
  if (stats.isCharacterDevice()) return 'a character device';
  if (stats.isBlockDevice()) return 'a block device';
  if (stats.isFIFO()) return 'a FIFO (named pipe)';
  if (stats.isSocket()) return 'a socket';
  return 'not a regular file';
}

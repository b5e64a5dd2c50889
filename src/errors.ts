/**
 * The typed errors every layer throws. Callers branch on the class (or `code`), never on message text;
 * messages name the offending path/key/value so a human can act on them.
 */
export class GenieError extends Error {
  readonly code: string;
  constructor(code: string, message: string, options?: { cause?: unknown }) {
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

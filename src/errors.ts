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

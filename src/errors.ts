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

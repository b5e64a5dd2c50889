import { GenieError } from '../../errors.js';

/** A text-stream object was used in a state that does not allow the call (e.g. pushing after a stop). */
export class StreamStateError extends GenieError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('INVALID_STATE', message, options);
  }
}

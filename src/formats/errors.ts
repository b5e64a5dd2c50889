import { GenieError } from '../errors.js';

/** A safetensors file is missing, unreadable or malformed; the message names the file. */
export class SafetensorsError extends GenieError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('BAD_SAFETENSORS', message, options);
  }
}

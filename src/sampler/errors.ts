import { GenieError } from '../errors.js';

/** A registered custom sampler callback broke its contract (e.g. returned a token outside the vocabulary). */
export class SamplerCallbackError extends GenieError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('SAMPLER_CALLBACK', message, options);
  }
}

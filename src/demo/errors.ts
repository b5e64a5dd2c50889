import { GenieError, InvalidArgumentError } from '../errors.js';

/**
 * A demo option is out of range or inconsistent with another. `option` is its key in `DemoOptions`,
 * `reason` the message without the option and value (a CLI can name its flag instead).
 */
export class DemoOptionError extends InvalidArgumentError {
  constructor(
    readonly option: string,
    readonly value: unknown,
    readonly reason: string,
  ) {
    super(`demo option ${option} ${JSON.stringify(value)}: ${reason}`);
  }
}

/** The output folder cannot take a demo bundle (not empty and not a bundle, or a bundle without `force`). */
export class DemoBundleError extends GenieError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('DEMO_BUNDLE', message, options);
  }
}

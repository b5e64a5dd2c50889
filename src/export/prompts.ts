/**
 * Calibration prompts: the built-in set, or a prompts file (UTF-8 text, one prompt per line, blank
 * lines skipped), read and checked before an export starts.
 */
import { GenieError, systemErrorReason } from '../errors.js';
import { FileTooLargeError, readFileUpTo } from '../formats/bounded-file.js';

/**
 * The built-in prompts, as plain text: a short question, a paragraph (several AR chunks), code. The
 * demo wraps them in Qwen's chat markup; an export feeds them as they are.
 */
export const DEFAULT_CALIBRATION_TEXTS: readonly string[] = Object.freeze([
  'What is the capital of France?',
  'Summarize the following in two sentences. The river rises in the mountains, where snow melts every spring ' +
    'and feeds a hundred small streams. It crosses three countries, turns the mills of old towns, and carries ' +
    'barges loaded with grain, timber and coal down to the sea, where its delta spreads into marshes full of birds.',
  'Write a Python function that returns the n-th Fibonacci number:\n```python\ndef fib(n: int) -> int:\n',
]);

/** A prompts file that cannot be used: unreadable, too large, not UTF-8 text, or without a prompt. */
export class CalibrationPromptsError extends GenieError {
  constructor(
    readonly path: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super('CALIBRATION_PROMPTS', message, options);
  }
}

/** A calibration runs the whole model per token: far more text than this is not meant. */
export const MAX_PROMPTS_BYTES = 4 * 1024 * 1024;

/** Prompts to calibrate on, and how export.json names them. */
export interface CalibrationPrompts {
  readonly texts: readonly string[];
  readonly source: string;
}

export const DEFAULT_CALIBRATION_PROMPTS: CalibrationPrompts = Object.freeze({
  texts: DEFAULT_CALIBRATION_TEXTS,
  source: `${DEFAULT_CALIBRATION_TEXTS.length} built-in prompts`,
});

/**
 * The prompts of `path`: one per line (a trailing `\r` dropped), blank lines skipped.
 * @throws CalibrationPromptsError naming the file and what is wrong with it
 */
export async function readCalibrationPrompts(path: string): Promise<CalibrationPrompts> {
  const bad = (what: string, cause?: unknown): CalibrationPromptsError =>
    new CalibrationPromptsError(path, `calibration prompts file "${path}" ${what}`, cause === undefined ? undefined : { cause });
  let bytes: Buffer;
  try {
    bytes = await readFileUpTo(path, MAX_PROMPTS_BYTES, (chunk, offset) => {
      const nul = chunk.indexOf(0);
      if (nul >= 0) throw bad(`is not text (a NUL byte at offset ${offset + nul})`);
    });
  } catch (error) {
    if (error instanceof CalibrationPromptsError) throw error;
    if (error instanceof FileTooLargeError) throw bad(`is larger than ${MAX_PROMPTS_BYTES / 2 ** 20} MiB`, error);
    throw bad(`cannot be read: ${systemErrorReason(error)}`, error);
  }
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch (error) {
    throw bad('is not UTF-8 text', error);
  }
  const texts = text.split('\n').map((line) => line.replace(/\r$/, '')).filter((line) => line.trim() !== '');
  if (texts.length === 0) throw bad('holds no prompt (one prompt per line; blank lines are skipped)');
  return { texts, source: `${texts.length} prompt(s) from ${path}` };
}

import { FileTooLargeError, readFileUpTo } from '../../formats/bounded-file.js';
import { lineColumn, syntaxErrorOffset, syntaxErrorReason } from '../../formats/json-text.js';
import { TokenizerLoadError } from './errors.js';

/** Tokenizer files are a few MiB (Qwen's tokenizer.json: 7 MiB); far larger, or endless like /dev/zero, is not one. */
const MAX_JSON_BYTES = 256 * 1024 * 1024;

/** Reads and parses a JSON file; `missingOk` turns a missing file into `undefined`. */
export async function readJsonFile(path: string, what: string, missingOk = false): Promise<unknown> {
  let text: string;
  try {
    text = (await readFileUpTo(path, MAX_JSON_BYTES)).toString('utf8');
  } catch (err) {
    if (err instanceof FileTooLargeError) {
      throw new TokenizerLoadError('TOKENIZER_UNREADABLE', `${what} ${path} is larger than 256 MiB: not a tokenizer file`, { cause: err });
    }
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') {
      if (missingOk) return undefined;
      throw new TokenizerLoadError('TOKENIZER_NOT_FOUND', `${what} not found: ${path}`, { cause: err });
    }
    const reason = err instanceof Error ? err.message : String(err);
    throw new TokenizerLoadError('TOKENIZER_UNREADABLE', `cannot read ${what} ${path}: ${reason}`, { cause: err });
  }
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    if (!(err instanceof SyntaxError)) throw err;
    const { line, column } = lineColumn(text, syntaxErrorOffset(text, err));
    const message = `invalid JSON in ${what} ${path}:${line}:${column}: ${syntaxErrorReason(err)}`;
    throw new TokenizerLoadError('TOKENIZER_INVALID_JSON', message, { cause: err });
  }
}

import { readFile } from 'node:fs/promises';
import { lineColumn, syntaxErrorOffset, syntaxErrorReason } from '../../formats/json-text.js';
import { TokenizerLoadError } from './errors.js';

/** Reads and parses a JSON file; `missingOk` turns a missing file into `undefined`. */
export async function readJsonFile(path: string, what: string, missingOk = false): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
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

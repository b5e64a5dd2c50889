import { readFile } from 'node:fs/promises';
import { TokenizerLoadError } from './errors.js';

/** 1-based line and column of a UTF-16 offset in `text`. */
function lineColumn(text: string, offset: number): string {
  let line = 1;
  let lineStart = 0;
  for (let i = 0; i < offset && i < text.length; i++) {
    if (text.charCodeAt(i) === 10) {
      line++;
      lineStart = i + 1;
    }
  }
  return `${line}:${offset - lineStart + 1}`;
}

/** Where V8's JSON.parse message puts the error, when it says. */
function errorOffset(message: string, text: string): number | undefined {
  const at = /at position (\d+)/.exec(message);
  if (at) return Number(at[1]);
  if (/Unexpected end of JSON input/.test(message)) return text.length;
  return undefined;
}

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
    const reason = err instanceof Error ? err.message : String(err);
    const offset = errorOffset(reason, text);
    const where = offset === undefined ? path : `${path}:${lineColumn(text, offset)}`;
    throw new TokenizerLoadError('TOKENIZER_INVALID_JSON', `invalid JSON in ${what} ${where}: ${reason}`, { cause: err });
  }
}

import { dirname, join, resolve } from 'node:path';
import { InvalidArgumentError } from '../../errors.js';
import { readJsonFile } from './json-file.js';
import { Tokenizer } from './tokenizer.js';

/** The file name Hugging Face writes beside tokenizer.json; optional. */
const CONFIG_FILE_NAME = 'tokenizer_config.json';

function absolutePath(path: string): string {
  if (typeof path !== 'string' || path.length === 0) {
    throw new InvalidArgumentError(`tokenizer path must be a non-empty string, got ${JSON.stringify(path)}`);
  }
  return resolve(path);
}

/** Loads a tokenizer.json (and the tokenizer_config.json beside it, if any). Not cached; see `loadTokenizer`. */
export async function readTokenizerFile(path: string): Promise<Tokenizer> {
  const file = absolutePath(path);
  const json = await readJsonFile(file, 'tokenizer file');
  const configFile = join(dirname(file), CONFIG_FILE_NAME);
  const config = (await readJsonFile(configFile, 'tokenizer config file', true)) ?? {};
  return new Tokenizer(json, config, file);
}

const cache = new Map<string, Promise<Tokenizer>>();

/**
 * Cached `readTokenizerFile`: building a large tokenizer takes about half a second, so every caller
 * asking for the same file (by absolute path) shares one promise and one instance. A failed load is
 * forgotten so that a later call tries again.
 */
export function loadTokenizer(path: string): Promise<Tokenizer> {
  const file = absolutePath(path);
  const cached = cache.get(file);
  if (cached) return cached;
  const loading = readTokenizerFile(file);
  cache.set(file, loading);
  loading.catch(() => {
    if (cache.get(file) === loading) cache.delete(file);
  });
  return loading;
}

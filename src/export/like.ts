/**
 * The graphs `genie-ts export --like` lays a float twin out like: a Genie config's, read through its
 * own backend (QnnHtp on the device, or the Reference backend), or an `inspect --json` description
 * (top-level key `graphs`) written where the QNN libraries are.
 */
import { resolve } from 'node:path';
import type { LikeGraphs } from '../backends/reference/index.js';
import { readFileUpTo } from '../formats/bounded-file.js';
import { isPlainObject } from '../formats/json.js';
import { parseGraphSpecsJson } from '../graphs/spec-json.js';
import { openBackend, type BackendOptions } from '../runtime/backend-factory.js';
import { assertLoadable, deriveDialog, loadConfigFile } from '../runtime/config/index.js';
import { MAX_CONFIG_BYTES } from '../runtime/config/load.js';

/** JSON text with a top-level `graphs` key (a description), or undefined for anything else. */
async function descriptionText(path: string): Promise<string | undefined> {
  try {
    const text = new TextDecoder('utf-8', { fatal: true }).decode(await readFileUpTo(path, MAX_CONFIG_BYTES));
    const json: unknown = JSON.parse(text);
    return isPlainObject(json) && 'graphs' in json ? text : undefined;
  } catch {
    // Not a readable JSON file: the config loader reports why.
    return undefined;
  }
}

/**
 * The graphs of `path`: a description file's, or those of the config's main engine, listed by its
 * backend (opened with `options`, then disposed).
 * @throws GraphSpecJsonError for a bad description; ConfigFileError / ConfigError / NotSupportedError
 *   for a config that cannot be loaded; the backend's errors when it cannot open
 */
export async function readLikeGraphs(path: string, options: BackendOptions = {}): Promise<LikeGraphs> {
  const source = resolve(path);
  const description = await descriptionText(source);
  if (description !== undefined) return { graphs: parseGraphSpecsJson(description, source), source };
  const { config } = await loadConfigFile(source);
  assertLoadable(config);
  const backend = await openBackend(deriveDialog(config), options);
  try {
    return { graphs: [...backend.graphs], source };
  } finally {
    await backend.dispose();
  }
}

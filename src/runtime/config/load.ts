import { readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { systemErrorReason } from '../../errors.js';
import { ConfigFileError } from './errors.js';
import { parseConfigText } from './parse.js';
import type { GenieConfig } from './types.js';

export interface LoadedConfig {
  readonly config: GenieConfig;
  /** Absolute path of the file. */
  readonly path: string;
  /** Its folder, against which the config's relative paths were resolved. */
  readonly baseDir: string;
}

/** Reads, validates and resolves a Genie JSON config file. */
export async function loadConfigFile(file: string): Promise<LoadedConfig> {
  const path = resolve(file);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    throw new ConfigFileError(path, `cannot read config file ${path}: ${systemErrorReason(error)}`, undefined, { cause: error });
  }
  const baseDir = dirname(path);
  return { config: parseConfigText(text, { baseDir, file: path }), path, baseDir };
}

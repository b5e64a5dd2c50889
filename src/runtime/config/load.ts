import { dirname, resolve } from 'node:path';
import { systemErrorReason } from '../../errors.js';
import { FileTooLargeError, readFileUpTo } from '../../formats/bounded-file.js';
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

/** Genie configs are a few kilobytes; a file far larger (or endless, like /dev/zero) is not one. */
export const MAX_CONFIG_BYTES = 16 * 1024 * 1024;

/** Reads, validates and resolves a Genie JSON config file. */
export async function loadConfigFile(file: string): Promise<LoadedConfig> {
  const path = resolve(file);
  const text = await readConfigText(path);
  const baseDir = dirname(path);
  return { config: parseConfigText(text, { baseDir, file: path }), path, baseDir };
}

/**
 * The file's text, read in chunks (so that a pipe or a device works, and an endless one ends): at
 * most MAX_CONFIG_BYTES, no NUL byte, valid UTF-8.
 * @throws ConfigFileError naming the file and what it is instead of a config
 */
async function readConfigText(path: string): Promise<string> {
  const notConfig = (what: string): ConfigFileError => new ConfigFileError(path, `config file ${path} is not a JSON config: ${what}`);
  let bytes: Buffer;
  try {
    bytes = await readFileUpTo(path, MAX_CONFIG_BYTES, (chunk, offset) => {
      const nul = chunk.indexOf(0);
      if (nul >= 0) throw notConfig(`it is not text (a NUL byte at offset ${offset + nul})`);
    });
  } catch (error) {
    if (error instanceof ConfigFileError) throw error;
    if (error instanceof FileTooLargeError) throw notConfig(`it is larger than ${MAX_CONFIG_BYTES / (1024 * 1024)} MiB`);
    throw new ConfigFileError(path, `cannot read config file ${path}: ${systemErrorReason(error)}`, undefined, { cause: error });
  }
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch (error) {
    throw new ConfigFileError(path, `config file ${path} is not a JSON config: it is not UTF-8 text`, undefined, { cause: error });
  }
}

import { expect } from 'vitest';
import { ConfigError, parseConfig, unsupportedValues, type ConfigIssue } from '../../../src/runtime/config/index.js';

/* Config bodies are plain JSON built by hand; tests mutate fresh copies, hence `any`. */
export type Json = any;

/** A minimal valid QnnHtp object (the five mandatory keys). */
export function htp(): Json {
  return { version: 1, 'spill-fill-bufsize': 0, 'mmap-budget': 0, 'use-mmap': true, 'cpu-mask': '0xe0', poll: true };
}

export function engine(): Json {
  return {
    version: 1,
    'n-threads': 3,
    backend: { version: 1, type: 'QnnHtp', QnnHtp: { ...htp(), 'kv-dim': 64 } },
    model: { version: 1, type: 'binary', binary: { version: 1, 'ctx-bins': ['model_part_1_of_2.bin', 'model_part_2_of_2.bin'] } },
  };
}

/** A minimal valid dialog body. */
export function dialog(): Json {
  return {
    version: 1,
    type: 'basic',
    context: { version: 1, size: 4096, 'n-vocab': 151936, 'bos-token': -1, 'eos-token': 151645 },
    tokenizer: { version: 1, path: 'tokenizer.json' },
    engine: engine(),
  };
}

export const BASE_DIR = '/configs/model';

/** The issues `parseConfig` reports, asserting it throws a `ConfigError` whose message lists them one per line. */
export function issuesOf(value: unknown): readonly ConfigIssue[] {
  try {
    parseConfig(value, { baseDir: BASE_DIR });
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    const configError = error as ConfigError;
    expect(configError.message).toBe(configError.issues.map((issue) => `${issue.path}: ${issue.message}`).join('\n'));
    return configError.issues;
  }
  throw new Error('expected parseConfig to throw a ConfigError');
}

/** Issues of a dialog config whose body `edit` changed. */
export function dialogIssues(edit: (body: Json) => void): readonly ConfigIssue[] {
  const body = dialog();
  edit(body);
  return issuesOf({ dialog: body });
}

export function parseDialog(edit: (body: Json) => void = () => {}) {
  const body = dialog();
  edit(body);
  return parseConfig({ dialog: body }, { baseDir: BASE_DIR });
}

/**
 * The values of a config Genie accepts (it parses) that genie-ts does not run: `unsupportedValues`,
 * asserting the parse succeeds.
 */
export function unsupportedOf(value: unknown): readonly ConfigIssue[] {
  return unsupportedValues(parseConfig(value, { baseDir: BASE_DIR }));
}

/** Unsupported values of a dialog config whose body `edit` changed. */
export function dialogUnsupported(edit: (body: Json) => void): readonly ConfigIssue[] {
  const body = dialog();
  edit(body);
  return unsupportedOf({ dialog: body });
}

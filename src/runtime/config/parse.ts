import { formatPath, isPlainObject } from '../../formats/json.js';
import { findDuplicateKeys, lineColumn, syntaxErrorOffset, syntaxErrorReason } from '../../formats/json-text.js';
import { ConfigError, ConfigFileError, type ConfigIssue } from './errors.js';
import { describeValue, toConfigIssues } from './issues.js';
import { resolvePaths } from './paths.js';
import { NODE_ROOTS, ROOT_NAMES, ROOT_SCHEMAS, type RootName } from './schema/roots.js';
import { checkRunnable } from './schema/values.js';
import type { GenieConfig } from './types.js';

export interface ParseOptions {
  /** Folder relative paths resolve against (default: the current directory). */
  readonly baseDir?: string;
  /** Source file, recorded on errors. */
  readonly file?: string;
}

/** What a valid config carries beyond its values (docs/genie-behaviour.md#config-general-rules). */
interface ConfigNotes {
  /** Values Genie accepts that genie-ts does not run: `config check` warns, loading refuses. */
  readonly unsupported: readonly ConfigIssue[];
  /** What Genie accepts silently and genie-ts runs the same way, pointed out by `config check` (a repeated nested key). */
  readonly warnings: readonly ConfigIssue[];
}

const NO_NOTES: ConfigNotes = { unsupported: [], warnings: [] };
const notes = new WeakMap<GenieConfig, ConfigNotes>();

/**
 * The values of a parsed config that Genie accepts but genie-ts does not run (a negative context
 * size, a non-hex cpu-mask, a token id past n-vocab), each with its JSON path. Empty for a config
 * that did not come from `parseConfig` / `parseConfigText`.
 */
export function unsupportedValues(config: GenieConfig): readonly ConfigIssue[] {
  return (notes.get(config) ?? NO_NOTES).unsupported;
}

/** What `config check` points out in a config it accepts: a key repeated below the top level. */
export function configWarnings(config: GenieConfig): readonly ConfigIssue[] {
  return (notes.get(config) ?? NO_NOTES).warnings;
}

const isRootName = (key: string): key is RootName => (ROOT_NAMES as string[]).includes(key);

interface Validated {
  readonly config?: GenieConfig;
  readonly issues: ConfigIssue[];
  readonly unsupported: ConfigIssue[];
}

/**
 * Genie's checks first (their failures are the config's errors); a config that passes them is
 * checked again for what genie-ts runs (its failures are unsupported values).
 */
function validate(value: unknown): Validated {
  const roots = ROOT_NAMES.map((name) => JSON.stringify(name)).join(', ');
  if (!isPlainObject(value)) {
    return { issues: [{ path: formatPath([]), message: `expected an object with one root key (${roots}), found ${describeValue(value)}` }], unsupported: [] };
  }
  const keys = Object.keys(value);
  const issues: ConfigIssue[] = keys
    .filter((key) => !isRootName(key))
    .map((key) => ({ path: key, message: `unknown root key; expected one of: ${ROOT_NAMES.join(', ')}` }));
  const known = keys.filter(isRootName);
  if (known.length !== 1) {
    const found = known.length === 0 ? 'none' : `${known.length}: ${known.join(', ')}`;
    issues.push({ path: formatPath([]), message: `expected exactly one root key (${roots}), found ${found}` });
  }
  const root = known[0];
  if (root === undefined) return { issues, unsupported: [] };
  const schema = ROOT_SCHEMAS[root];
  const result = schema.safeParse(value[root]);
  if (!result.success) issues.push(...toConfigIssues(result.error.issues, [root]));
  if (issues.length > 0 || !result.success) return { issues, unsupported: [] };
  const runnable = checkRunnable(() => schema.safeParse(value[root]));
  const unsupported = runnable.success ? [] : toConfigIssues(runnable.error.issues, [root]);
  return { config: { root, [root]: result.data } as GenieConfig, issues, unsupported };
}

function finish(value: unknown, extraIssues: ConfigIssue[], warnings: ConfigIssue[], options: ParseOptions): GenieConfig {
  const { config, issues, unsupported } = validate(value);
  const all = [...extraIssues, ...issues];
  if (config === undefined || all.length > 0) throw new ConfigError(all, options.file);
  resolvePaths(config, options.baseDir ?? process.cwd());
  if (unsupported.length > 0 || warnings.length > 0) notes.set(config, { unsupported, warnings });
  return config;
}

/**
 * Validates a config object (e.g. JSON.parse output) against Genie's schema and resolves its
 * relative paths. Throws one `ConfigError` listing every issue; the values Genie accepts that
 * genie-ts does not run are kept for `unsupportedValues`.
 */
export function parseConfig(value: unknown, options: ParseOptions = {}): GenieConfig {
  return finish(value, [], [], options);
}

/**
 * Parses config text: invalid JSON -> `ConfigFileError` with line:column. A repeated key of the
 * top-level object is an error (Genie's parse callback refuses it, except in the pipeline node
 * configs it parses plainly) reported with the schema issues in one `ConfigError`; a key repeated
 * deeper is a warning, Genie (like JSON.parse) keeping the last value.
 */
export function parseConfigText(text: string, options: ParseOptions = {}): GenieConfig {
  const source = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  let value: unknown;
  try {
    value = JSON.parse(source);
  } catch (error) {
    if (!(error instanceof SyntaxError)) throw error;
    const position = lineColumn(source, syntaxErrorOffset(source, error));
    const file = options.file ?? '<config>';
    throw new ConfigFileError(
      file,
      `invalid JSON in ${file} at ${position.line}:${position.column}: ${syntaxErrorReason(error)}`,
      position,
      { cause: error },
    );
  }
  const nodeRoot = isPlainObject(value) && Object.keys(value).some((key) => (NODE_ROOTS as string[]).includes(key));
  const errors: ConfigIssue[] = [];
  const warnings: ConfigIssue[] = [];
  for (const duplicate of findDuplicateKeys(source)) {
    const at = `${duplicate.line}:${duplicate.column} (first at ${duplicate.firstLine}:${duplicate.firstColumn})`;
    if (duplicate.depth === 1 && !nodeRoot) {
      errors.push({ path: duplicate.path, message: `duplicate key at ${at}; Genie rejects a repeated root key` });
    } else {
      warnings.push({ path: duplicate.path, message: `duplicate key at ${at}; the last value is used, as Genie does` });
    }
  }
  return finish(value, errors, warnings, options);
}

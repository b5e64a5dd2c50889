import { formatPath, isPlainObject } from '../../formats/json.js';
import { findDuplicateKeys, lineColumn, syntaxErrorOffset, syntaxErrorReason } from '../../formats/json-text.js';
import { ConfigError, ConfigFileError, type ConfigIssue } from './errors.js';
import { describeValue, toConfigIssues } from './issues.js';
import { resolvePaths } from './paths.js';
import { ROOT_NAMES, ROOT_SCHEMAS, type RootName } from './schema/roots.js';
import type { GenieConfig } from './types.js';

export interface ParseOptions {
  /** Folder relative paths resolve against (default: the current directory). */
  readonly baseDir?: string;
  /** Source file, recorded on errors. */
  readonly file?: string;
}

const isRootName = (key: string): key is RootName => (ROOT_NAMES as string[]).includes(key);

function validate(value: unknown): { config?: GenieConfig; issues: ConfigIssue[] } {
  const roots = ROOT_NAMES.map((name) => JSON.stringify(name)).join(', ');
  if (!isPlainObject(value)) {
    return { issues: [{ path: formatPath([]), message: `expected an object with one root key (${roots}), found ${describeValue(value)}` }] };
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
  if (root === undefined) return { issues };
  const result = ROOT_SCHEMAS[root].safeParse(value[root]);
  if (!result.success) issues.push(...toConfigIssues(result.error.issues, [root]));
  if (issues.length > 0) return { issues };
  return { config: { root, [root]: result.data } as GenieConfig, issues };
}

function finish(value: unknown, extraIssues: ConfigIssue[], options: ParseOptions): GenieConfig {
  const { config, issues } = validate(value);
  const all = [...extraIssues, ...issues];
  if (config === undefined || all.length > 0) throw new ConfigError(all, options.file);
  resolvePaths(config, options.baseDir ?? process.cwd());
  return config;
}

/**
 * Validates a config object (e.g. JSON.parse output) against Genie's schema and resolves its
 * relative paths. Throws one `ConfigError` listing every issue.
 */
export function parseConfig(value: unknown, options: ParseOptions = {}): GenieConfig {
  return finish(value, [], options);
}

/**
 * Parses config text: invalid JSON -> `ConfigFileError` with line:column; duplicate keys (which
 * Genie rejects and JSON.parse hides) are reported with the schema issues in one `ConfigError`.
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
  const duplicates = findDuplicateKeys(source).map((duplicate) => ({
    path: duplicate.path,
    message: `duplicate key at ${duplicate.line}:${duplicate.column} (first at ${duplicate.firstLine}:${duplicate.firstColumn}); Genie rejects repeated keys`,
  }));
  return finish(value, duplicates, options);
}

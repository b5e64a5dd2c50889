import { NotSupportedError } from '../../errors.js';
import { isRuntimeBackendType } from '../backend-registry.js';
import { unsupportedValues } from './parse.js';
import { dialogBody, isDialogRoot, type GenieConfig } from './types.js';
import { unsupportedKeys } from './unsupported-keys.js';

/** Backend types this runtime can execute (from the backend registry). */
export { RUNTIME_BACKEND_TYPES } from '../backend-registry.js';

/** Why the engine does not run a root other than a dialog's. */
const ROOT_REASONS: Readonly<Record<string, string>> = {
  embedding: 'text-embedding models (genie-t2e-run) are not implemented; the engine runs "dialog" and "text-generator" configs',
};

/**
 * Everything in a valid Genie config that genie-ts does not run, one message each with its JSON
 * path, in this order: the root, the dialog type, each engine's backend and model type, the keys it
 * would otherwise ignore (`unsupportedKeys`), then the values it cannot run (`unsupportedValues`,
 * `cannot run: <path>: <why>`). `config check` prints them as warnings.
 */
export function unsupportedFeatures(config: GenieConfig): string[] {
  const found: string[] = [];
  if (!isDialogRoot(config)) {
    const reason = ROOT_REASONS[config.root] ?? 'the engine runs "dialog" and "text-generator" configs';
    found.push(`not supported yet: config root "${config.root}" (${reason})`);
  } else {
    const root = config.root;
    const dialog = dialogBody(config);
    if (dialog.type !== 'basic') found.push(`not supported yet: ${root}.type "${dialog.type}"`);
    const engines = Array.isArray(dialog.engine)
      ? dialog.engine.map((engine, i) => ({ engine, key: `${root}.engine[${i}]` }))
      : [{ engine: dialog.engine, key: `${root}.engine` }];
    for (const { engine, key } of engines) {
      const type = engine.backend.type;
      if (!isRuntimeBackendType(type)) found.push(`not supported yet: ${key}.backend.type "${type}"`);
      if (engine.model.type !== 'binary') found.push(`not supported yet: ${key}.model.type "${engine.model.type}"`);
    }
    found.push(...unsupportedKeys(config));
  }
  for (const issue of unsupportedValues(config)) found.push(`cannot run: ${issue.path}: ${issue.message}`);
  return found;
}

/**
 * Called by the engine at load: a config can be valid Genie yet ask for something this runtime
 * does not do (yet). Throws one `NotSupportedError` naming every such key and value
 * (`unsupportedFeatures`, joined by "; "), e.g. `not supported yet: dialog.type "lade"`.
 */
export function assertLoadable(config: GenieConfig): void {
  const unsupported = unsupportedFeatures(config);
  if (unsupported.length > 0) throw new NotSupportedError(unsupported.join('; '));
}

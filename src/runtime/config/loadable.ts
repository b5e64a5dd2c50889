import { NotSupportedError } from '../../errors.js';
import { isRuntimeBackendType } from '../backend-registry.js';
import { dialogBody, isDialogRoot, type GenieConfig } from './types.js';
import { unsupportedKeys } from './unsupported-keys.js';

/** Backend types this runtime can execute (from the backend registry). */
export { RUNTIME_BACKEND_TYPES } from '../backend-registry.js';

/**
 * Called by the engine at load: a config can be valid Genie yet ask for something this runtime
 * does not do (yet). Throws `NotSupportedError` naming the key, e.g. `not supported yet: dialog.type "lade"`;
 * keys genie-ts would otherwise accept and ignore (`unsupportedKeys`) are named all in one message.
 */
export function assertLoadable(config: GenieConfig): void {
  if (!isDialogRoot(config)) {
    throw new NotSupportedError(`not supported yet: config root "${config.root}" (the engine runs "dialog" and "text-generator" configs)`);
  }
  const root = config.root;
  const dialog = dialogBody(config);
  if (dialog.type !== 'basic') throw new NotSupportedError(`not supported yet: ${root}.type "${dialog.type}"`);
  const engines = Array.isArray(dialog.engine)
    ? dialog.engine.map((engine, i) => ({ engine, key: `${root}.engine[${i}]` }))
    : [{ engine: dialog.engine, key: `${root}.engine` }];
  for (const { engine, key } of engines) {
    const type = engine.backend.type;
    if (!isRuntimeBackendType(type)) throw new NotSupportedError(`not supported yet: ${key}.backend.type "${type}"`);
    if (engine.model.type !== 'binary') throw new NotSupportedError(`not supported yet: ${key}.model.type "${engine.model.type}"`);
  }
  const unsupported = unsupportedKeys(config);
  if (unsupported.length > 0) throw new NotSupportedError(unsupported.join('; '));
}

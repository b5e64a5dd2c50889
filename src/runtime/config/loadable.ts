import { NotSupportedError } from '../../errors.js';
import { isRuntimeBackendType, type BackendType } from '../backend-registry.js';
import { unsupportedValues } from './parse.js';
import { dialogBody, isDialogRoot, type GenieConfig } from './types.js';
import { unsupportedKeys } from './unsupported-keys.js';

/** Backend types this runtime can execute (from the backend registry). */
export { RUNTIME_BACKEND_TYPES } from '../backend-registry.js';

/** Why the engine does not run a root other than a dialog's (image and LUT text encoders run as pipeline nodes). */
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
  if (config.root === 'image-encoder') {
    // Without an engine (Genie does not require one) the unsupported values below say so.
    const engine = config['image-encoder'].engine as unknown as ImageEncoderEngine | undefined;
    if (engine !== undefined) found.push(...imageEncoderUnsupported(engine));
  } else if (config.root === 'text-encoder') {
    const type = config['text-encoder'].type;
    if (type !== 'lut') found.push(`not supported yet: text-encoder.type "${String(type)}" (an encoder model; genie-ts runs LUT text encoders)`);
  } else if (!isDialogRoot(config)) {
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

/** The keys of an image-encoder engine read here (the schema has validated their types). */
interface ImageEncoderEngine {
  readonly mode?: unknown;
  readonly backend: { readonly type: string; readonly extensions?: string; readonly QnnHtp?: { readonly 'allow-async-init'?: boolean } };
  readonly model: { readonly type: string; readonly binary?: { readonly lora?: unknown }; readonly 'positional-encoding'?: unknown };
}

/**
 * What an image encoder (a Genie pipeline node, genie-ts's `imageEncoder`) asks for that genie-ts
 * does not run: a mode other than "image" (Genie's schema takes any string), the backend and model types, LoRA, a positional encoding (the encoder's
 * position_ids_sin/cos are inputs the caller supplies), async init, extensions on Reference.
 */
function imageEncoderUnsupported(engine: ImageEncoderEngine): string[] {
  const key = 'image-encoder.engine';
  const found: string[] = [];
  const report = (what: string, why: string): void => void found.push(`not supported yet: ${key}.${what} (${why})`);
  const { backend, model } = engine;
  if (engine.mode !== 'image') report(`mode ${JSON.stringify(engine.mode)}`, 'an image encoder runs in mode "image"');
  if (!isRuntimeBackendType(backend.type as BackendType)) found.push(`not supported yet: ${key}.backend.type "${backend.type}"`);
  if (model.type !== 'binary') found.push(`not supported yet: ${key}.model.type "${model.type}"`);
  if (model.binary?.lora !== undefined) report('model.binary.lora', 'LoRA adapters are not implemented');
  if (model['positional-encoding'] !== undefined) report('model.positional-encoding', "the encoder's position_ids_sin/cos are inputs the caller supplies");
  if (backend.QnnHtp?.['allow-async-init'] === true) report('backend.QnnHtp.allow-async-init true', 'contexts are created one after the other');
  if (backend.type === 'Reference' && backend.extensions !== undefined) {
    report('backend.extensions', 'the HTP extensions file configures QnnHtp; backend type "Reference" has no use for it');
  }
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

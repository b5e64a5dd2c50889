import type { EngineConfig } from './schema/engine.js';
import { dialogBody, type DialogRootConfig } from './types.js';

/**
 * The decoding-strategy blocks Genie accepts next to another dialog type (and ignores there); the
 * others are errors next to another type.
 */
const STRATEGY_BLOCKS = ['multistream', 'eaglet'] as const;

/** The KV cache group genie-ts runs: the default one, tensors named `past_*`. */
const DEFAULT_CACHE_GROUP = 'past_';

const LORA = 'LoRA adapters are not implemented';

/**
 * Keys of a valid dialog (or text-generator) config that ask for something genie-ts does not do,
 * each as `not supported yet: <key> (<why>)`, in the schema's key order. The engine refuses to load such a
 * config rather than run it as if the key were absent; `config check` reports them as a warning.
 *
 * What is not listed here is acted on, with these exceptions, accepted because refusing them would
 * refuse every Genie config or because Genie does not act on them either:
 * - `engine.n-threads`, QnnHtp `cpu-mask` and `poll` (mandatory): they size and pin Genie's host
 *   thread pool for KV copies; genie-ts copies the KV cache on the JS thread.
 * - `context.n-vocab` sizes the LUT; the logits width comes from the `logits` tensor, as in Genie.
 * - `sampler.greedy`: Genie overwrites it with `temp <= 0 || top-k == 1`, as genie-ts does;
 *   `sampler.callback-name` without a type: the basic sampler does not call it, in Genie either.
 * - QnnHtp `kv-update-method` SMART_MASK or SHIFT_CONCAT (Genie runs the latter as SMART_MASK),
 *   `allow-async-init: false`, `shared-engine: false`, `skip-lora-validation: false`: Genie's
 *   defaults, which are what genie-ts does.
 * - `accumulator-size` in a `dialog` root: Genie's dialog ignores it too (in a `text-generator` it
 *   bounds the accumulator that spliced prompts and the Pipeline build their rows in).
 * - `stop-sequence` entries "": Genie's matcher never matches an empty sequence; genie-ts drops them.
 */
export function unsupportedKeys(config: DialogRootConfig): string[] {
  const root = config.root;
  const dialog = dialogBody(config);
  const found: string[] = [];
  const report = (key: string, why: string): void => void found.push(`not supported yet: ${root}.${key} (${why})`);

  const context = dialog.context;
  if (context['draft-n-vocab'] !== undefined) report('context.draft-n-vocab', "a draft model's vocabulary size; only speculative dialog types use one");
  const engines = Array.isArray(dialog.engine)
    ? dialog.engine.map((engine, i) => ({ engine, key: `engine[${i}]` }))
    : [{ engine: dialog.engine, key: 'engine' }];
  for (const { engine, key } of engines) engineKeys(engine, key, report);
  for (const block of STRATEGY_BLOCKS) {
    if (block !== dialog.type && dialog[block] !== undefined) {
      report(block, `only type "${block}" reads it, and this dialog is type "${dialog.type}"`);
    }
  }
  return found;
}

function engineKeys(engine: EngineConfig, key: string, report: (key: string, why: string) => void): void {
  const { backend, model } = engine;
  if (backend.type === 'Reference' && backend.extensions !== undefined) {
    report(`${key}.backend.extensions`, 'the HTP extensions file configures QnnHtp; backend type "Reference" has no use for it');
  }
  const htp = backend.QnnHtp;
  if (htp !== undefined) {
    const at = `${key}.backend.QnnHtp`;
    const method = htp['kv-update-method'];
    if (method === 'NATIVE_KV' || method === 'POINTER_SHIFT') {
      report(`${at}.kv-update-method "${method}"`, 'the KV cache is updated in SMART_MASK mode only');
    }
    if (htp['allow-async-init'] === true) report(`${at}.allow-async-init true`, 'contexts are created one after the other');
    if (htp['shared-engine'] === true) report(`${at}.shared-engine true`, 'engines are not shared between dialogs');
    if (htp['data-alignment-size'] !== undefined) report(`${at}.data-alignment-size`, 'shared-memory allocations use the allocator\'s alignment');
    if (htp['graph-switching-lora-policy'] !== undefined) report(`${at}.graph-switching-lora-policy`, LORA);
    if (htp['skip-lora-validation'] === true) report(`${at}.skip-lora-validation true`, LORA);
  }
  const longContext = engine.longcontext;
  if (longContext?.type === 'keydiff') report(`${key}.longcontext.type "keydiff"`, 'KeyDiff eviction (its scoring network) is not implemented; sliding-window is');
  if (longContext?.type === 'sliding-window' && longContext['sliding-window'] === undefined) {
    report(`${key}.longcontext`, 'type "sliding-window" without a sliding-window block: genie-ts needs its window-size');
  }
  const groups = engine['cache-groups'];
  if (groups !== undefined && !isDefaultCacheGroup(groups)) {
    report(`${key}.cache-groups`, `only the default group (prefix "${DEFAULT_CACHE_GROUP}", no other keys) is implemented`);
  }
  if (model.binary?.lora !== undefined) report(`${key}.model.binary.lora`, LORA);
  if (model['draft-token-map'] !== undefined) report(`${key}.model.draft-token-map`, 'vocabulary trimming for draft models is not implemented');
  const encoding = model['positional-encoding'];
  if (encoding !== undefined && encoding.type !== 'rope') {
    report(`${key}.model.positional-encoding.type "${encoding.type}"`, 'only rope position tables are implemented');
  }
}

function isDefaultCacheGroup(groups: NonNullable<EngineConfig['cache-groups']>): boolean {
  return groups.length === 1 && groups[0].prefix === DEFAULT_CACHE_GROUP && Object.keys(groups[0]).every((k) => k === 'version' || k === 'prefix');
}

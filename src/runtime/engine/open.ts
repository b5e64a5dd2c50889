import { deriveDialog, type DerivedDialog } from '../config/derive.js';
import { loadConfigFile } from '../config/load.js';
import { assertLoadable } from '../config/loadable.js';
import { parseConfig } from '../config/parse.js';
import type { GenieConfig } from '../config/types.js';
import { checkBackendOptions, openBackend, type BackendOptions } from '../backend-factory.js';
import { checkConfigGeometry } from '../config-geometry.js';
import { loadConfigEmbeddings } from '../embeddings/from-config.js';
import type { GraphBackend } from '../../backends/backend.js';
import { InvalidArgumentError } from '../../errors.js';
import { checkOptionKeys, describeValue } from '../check-options.js';
import { Engine } from './engine.js';

/** Where the Engine's backend comes from, besides the config (`DialogOptions.graphBackend`, `wrapBackend`). */
export interface BackendSource {
  /** Used instead of opening the config's backend; the Engine disposes it. */
  readonly graphBackend?: GraphBackend;
  /** Receives the backend (the config's, or `graphBackend`) and returns the one the Engine drives. */
  readonly wrapBackend?: (configured: GraphBackend) => GraphBackend;
}

/** Options of `Engine.open`: those of `Dialog.create` that concern the graphs. */
export interface EngineOpenOptions extends BackendSource {
  /** Folder that relative paths of an object config resolve against (default: the working directory). */
  readonly baseDir?: string;
  /** Options of the backend `engine.backend.type` names (e.g. `qnn: { provider: 'simulated' }`). */
  readonly backend?: BackendOptions;
}

const ENGINE_OPEN_OPTION_KEYS = { baseDir: true, backend: true, graphBackend: true, wrapBackend: true } as const satisfies Record<
  keyof EngineOpenOptions,
  true
>;

/**
 * A Genie config (a file path, or a parsed object whose relative paths resolve against `baseDir`),
 * parsed, checked loadable and derived; `what` names the caller in the message for a bad argument.
 */
export async function loadDialogConfig(
  config: unknown,
  baseDir: string | undefined,
  what: string,
): Promise<{ readonly parsed: GenieConfig; readonly derived: DerivedDialog }> {
  if (config === '' || (typeof config !== 'string' && (typeof config !== 'object' || config === null || Array.isArray(config)))) {
    throw new InvalidArgumentError(`${what} takes a config file path or a parsed config object, got ${describeValue(config)}`);
  }
  const parsed = typeof config === 'string' ? (await loadConfigFile(config)).config : parseConfig(config, { baseDir: baseDir ?? process.cwd() });
  assertLoadable(parsed);
  return { parsed, derived: deriveDialog(parsed) };
}

/**
 * `Engine.open`: the Engine of a Genie config without a dialog (no tokenizer, sampler or turn
 * rules): its backend opened, its LUT loaded, every buffer bound, the config's model shape checked
 * against the binaries.
 */
export async function openConfiguredEngine(config: string | object, options: EngineOpenOptions = {}): Promise<Engine> {
  checkOptionKeys('Engine.open options', options, ENGINE_OPEN_OPTION_KEYS);
  const { baseDir, graphBackend, wrapBackend } = options;
  if (baseDir !== undefined && typeof baseDir !== 'string') {
    throw new InvalidArgumentError(`Engine.open option baseDir must be a folder path (a string), got ${describeValue(baseDir)}`);
  }
  checkBackendOptions(options.backend, 'Engine.open');
  if (graphBackend !== undefined && !isGraphBackend(graphBackend)) {
    throw new InvalidArgumentError(`Engine.open option graphBackend must be a GraphBackend (graphs, allocate, bind, execute, dispose), got ${describeValue(graphBackend)}`);
  }
  if (wrapBackend !== undefined && typeof wrapBackend !== 'function') {
    throw new InvalidArgumentError(`Engine.open option wrapBackend must be a function (configured: GraphBackend) => GraphBackend, got ${describeValue(wrapBackend)}`);
  }
  const { parsed, derived } = await loadDialogConfig(config, baseDir, 'Engine.open');
  const engine = await openEngine(derived, options.backend, { graphBackend, wrapBackend });
  try {
    checkConfigGeometry(parsed, engine.layout);
  } catch (error) {
    await engine.dispose();
    throw error;
  }
  return engine;
}

/**
 * The Engine of a derived config: its backend (with `options` for it), its LUT (none for
 * `embedding.type: callback`), every buffer bound. The backend opens first, so that a config whose
 * files are all missing (e.g. copied away from its bundle) is reported by its first ctx-bin, not by
 * its LUT. The backend is disposed again when the Engine cannot be created.
 */
export async function openEngine(config: DerivedDialog, options: BackendOptions = {}, source: BackendSource = {}): Promise<Engine> {
  let backend = source.graphBackend ?? (await openBackend(config, options));
  try {
    if (source.wrapBackend !== undefined) backend = wrapped(source.wrapBackend, backend);
    const embeddings = loadConfigEmbeddings(config);
    return Engine.create(backend, {
      contextSize: config.contextSize,
      longContext: config.slidingWindow !== null,
      padToken: config.padToken,
      eosToken: config.primaryEos,
      rope: config.positionalEncoding,
      embeddings,
      embeddingCallback: config.embedding?.type === 'callback',
    });
  } catch (error) {
    await backend.dispose();
    throw error;
  }
}

/** `wrap(configured)`, checked to be a GraphBackend (a wrapper that throws or returns something else fails the open). */
function wrapped(wrap: (configured: GraphBackend) => GraphBackend, configured: GraphBackend): GraphBackend {
  const backend: unknown = wrap(configured);
  if (!isGraphBackend(backend)) {
    throw new InvalidArgumentError(
      `Dialog.create option wrapBackend must return a GraphBackend (graphs, allocate, bind, execute, dispose), got ${describeValue(backend)}`,
    );
  }
  return backend;
}

/** The shape of a GraphBackend: its graph list and its four methods. */
export function isGraphBackend(value: unknown): value is GraphBackend {
  const v = value as Partial<GraphBackend> | null;
  return typeof v === 'object' && v !== null && Array.isArray(v.graphs) && typeof v.allocate === 'function' &&
    typeof v.bind === 'function' && typeof v.execute === 'function' && typeof v.dispose === 'function';
}

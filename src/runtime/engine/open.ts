import type { DerivedDialog } from '../config/derive.js';
import { openBackend, type BackendOptions } from '../backend-factory.js';
import { loadConfigEmbeddings } from '../embeddings/from-config.js';
import type { GraphBackend } from '../../backends/backend.js';
import { InvalidArgumentError } from '../../errors.js';
import { describeValue } from '../check-options.js';
import { Engine } from './engine.js';

/** Where the Engine's backend comes from, besides the config (`DialogOptions.graphBackend`, `wrapBackend`). */
export interface BackendSource {
  /** Used instead of opening the config's backend; the Engine disposes it. */
  readonly graphBackend?: GraphBackend;
  /** Receives the backend (the config's, or `graphBackend`) and returns the one the Engine drives. */
  readonly wrapBackend?: (configured: GraphBackend) => GraphBackend;
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

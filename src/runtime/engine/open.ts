import type { DerivedDialog } from '../config/derive.js';
import { openBackend, type BackendOptions } from '../backend-factory.js';
import { loadConfigEmbeddings } from '../embeddings/from-config.js';
import { Engine } from './engine.js';

/**
 * The Engine of a derived config: its backend (with `options` for it), its LUT (none for
 * `embedding.type: callback`), every buffer bound. The backend opens first, so that a config whose
 * files are all missing (e.g. copied away from its bundle) is reported by its first ctx-bin, not by
 * its LUT. The backend is disposed again when the Engine cannot be created.
 */
export async function openEngine(config: DerivedDialog, options: BackendOptions = {}): Promise<Engine> {
  const backend = await openBackend(config, options);
  try {
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

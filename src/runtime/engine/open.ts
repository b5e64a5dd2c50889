import type { DerivedDialog } from '../config/derive.js';
import { openBackend, type BackendOptions } from '../backend-factory.js';
import { loadConfigEmbeddings } from '../embeddings/from-config.js';
import { Engine } from './engine.js';

/**
 * The Engine of a derived config: its LUT (none for `embedding.type: callback`), its backend (with
 * `options` for it), every buffer bound. The backend is disposed again when the Engine cannot be created.
 */
export async function openEngine(config: DerivedDialog, options: BackendOptions = {}): Promise<Engine> {
  const embeddings = loadConfigEmbeddings(config);
  const backend = await openBackend(config, options);
  try {
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

import type { GraphBackend } from '../backends/backend.js';
import { openReferenceBackend } from '../backends/reference/index.js';
import { NotSupportedError } from '../errors.js';
import type { DerivedDialog } from './config/derive.js';

/**
 * The one place that maps `engine.backend.type` to a backend implementation. Backends with native
 * dependencies are imported lazily so the others load without them.
 */
export async function openBackend(config: DerivedDialog): Promise<GraphBackend> {
  switch (config.backendType) {
    case 'Reference':
      return openReferenceBackend(config.ctxBins);
    default:
      throw new NotSupportedError(`not supported yet: engine.backend.type "${config.backendType}"`);
  }
}

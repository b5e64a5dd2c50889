import type { GraphBackend } from '../backends/backend.js';
import type { QnnBackendOptions } from '../backends/qnn/index.js';
import { openReferenceBackend } from '../backends/reference/index.js';
import { NotSupportedError } from '../errors.js';
import type { DerivedDialog } from './config/derive.js';

export interface BackendOptions {
  /**
   * QnnHtp backend options (provider, libraries, log level, perf profile, profiling, ...). The
   * simulated HTP provider is selected with `{ provider: 'simulated' }` or the environment variable
   * `GENIE_TS_QNN_PROVIDER=simulated`.
   */
  readonly qnn?: QnnBackendOptions;
}

/**
 * The one place that maps `engine.backend.type` to a backend implementation. The QNN backend is
 * imported lazily so the others load without touching native code.
 */
export async function openBackend(config: DerivedDialog, options: BackendOptions = {}): Promise<GraphBackend> {
  switch (config.backendType) {
    case 'Reference':
      return openReferenceBackend(config.ctxBins);
    case 'QnnHtp': {
      const { openQnnBackend } = await import('../backends/qnn/index.js');
      return openQnnBackend(config.ctxBins, { htp: config.htp, extensionsPath: config.extensionsPath, ...options.qnn });
    }
    default:
      throw new NotSupportedError(`not supported yet: engine.backend.type "${config.backendType}"`);
  }
}

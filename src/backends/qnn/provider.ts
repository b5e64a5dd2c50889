/** Picks where the QNN function tables come from: the QNN libraries on disk or the simulated provider. */
import { basename } from 'node:path';
import { checkAdspLibraryPath } from '../../qnn/binding/adsp.js';
import { processLibraryHost, resolveQnnLibrary } from '../../qnn/binding/library-paths.js';
import { loadRpcmem, type SharedMemoryAllocator } from '../../qnn/binding/memory.js';
import {
  loadQnnLibraries,
  loadQnnSystemLibrary,
  providerSourceFromPointers,
  systemProviderSourceFromPointer,
  type QnnProviderSource,
  type QnnSystemProviderSource,
} from '../../qnn/binding/providers.js';
import { checkSimulatedOption, resolveQnnProvider, type QnnBackendOptions, type ResolvedQnnBackendOptions } from './options.js';

export const DEFAULT_BACKEND_LIBRARY = 'QnnHtp';
export const DEFAULT_SYSTEM_LIBRARY = 'QnnSystem';

export interface OpenedProvider {
  readonly source: QnnProviderSource;
  readonly sharedMemory: SharedMemoryAllocator | undefined;
}

/**
 * `warn` receives environment problems that do not stop loading. The simulated provider comes in
 * option `simulated` (resolveQnnBackendOptions checks it is there); whoever owns it disposes it.
 */
export function openProvider(
  options: QnnBackendOptions,
  resolved: ResolvedQnnBackendOptions,
  warn: (message: string) => void,
): OpenedProvider {
  const injected = typeof options.sharedMemory === 'object' ? options.sharedMemory : undefined;
  if (resolved.provider === 'simulated' && options.simulated !== undefined) {
    const sim = options.simulated;
    return {
      source: providerSourceFromPointers('simulated QNN HTP provider', sim.interfaceGetProviders, sim.systemInterfaceGetProviders),
      // No FastRPC behind a simulation: shared memory only when a test injects an allocator.
      sharedMemory: injected,
    };
  }
  const host = { ...processLibraryHost(), env: resolved.env };
  const backend = resolveQnnLibrary('backend', options.backendLibrary, DEFAULT_BACKEND_LIBRARY, host);
  const system = resolveQnnLibrary('system', options.systemLibrary, DEFAULT_SYSTEM_LIBRARY, host);
  if (host.platform === 'android' && basename(backend.path).includes('Htp')) {
    for (const warning of checkAdspLibraryPath(resolved.env).warnings) warn(warning);
  }
  return {
    source: loadQnnLibraries(backend.path, system.path),
    sharedMemory: options.sharedMemory === 'off' ? undefined : (injected ?? loadRpcmem() ?? undefined),
  };
}

/** What reading context binaries' metadata needs of the QnnHtp backend options: the system provider. */
export type QnnSystemOptions = Pick<QnnBackendOptions, 'provider' | 'simulated' | 'systemLibrary' | 'env'>;

/**
 * libQnnSystem's provider alone: the simulated provider's system part, or libQnnSystem resolved and
 * loaded like `openProvider` does (the backend library is neither resolved nor loaded). `caller`
 * starts the messages of bad options.
 */
export function openSystemProvider(options: QnnSystemOptions, caller: string): QnnSystemProviderSource {
  const env = options.env ?? process.env;
  const provider = resolveQnnProvider(options, env);
  checkSimulatedOption(provider, options, caller);
  if (options.simulated !== undefined) {
    return systemProviderSourceFromPointer('simulated QNN system provider', options.simulated.systemInterfaceGetProviders);
  }
  const system = resolveQnnLibrary('system', options.systemLibrary, DEFAULT_SYSTEM_LIBRARY, { ...processLibraryHost(), env });
  return loadQnnSystemLibrary(system.path);
}

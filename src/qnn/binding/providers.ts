/**
 * The two entry points of a QNN installation (`QnnInterface_getProviders` in the backend library,
 * `QnnSystemInterface_getProviders` in libQnnSystem) and the choice of a provider whose API this
 * binding speaks (docs/qnn-abi.md#exported-entry-points, docs/qnn-abi.md#interface-provider-structs).
 */
import koffi from 'koffi';
import type { LibraryHandle } from 'koffi';
import { abi, QNN_INTERFACE_GET_PROVIDERS_SYMBOL, QNN_SYSTEM_INTERFACE_GET_PROVIDERS_SYMBOL } from '../abi.js';
import { checkQnn } from '../errors.js';
import { formatApiVersion, MIN_CORE_API_VERSION, MIN_SYSTEM_API_VERSION, type QnnApiVersion } from '../slots.js';
import { QnnProviderError } from './errors.js';
import { INTERFACE, SYSTEM_INTERFACE } from './layout.js';
import { librarySymbol, loadLibraryFile } from './library-file.js';
import type { QnnLibraryKind } from './library-paths.js';
import { readCStringAt, readU32, type NativeFunction, type NativePointer } from './native.js';

/** libQnnSystem's `getProviders` alone: all that reading a context binary's metadata needs. */
export interface QnnSystemProviderSource {
  /** For messages, e.g. the library path. */
  readonly description: string;
  readonly systemInterfaceGetProviders: NativeFunction;
}

/** The two `getProviders` functions of one QNN installation (real libraries or the simulated provider). */
export interface QnnProviderSource extends QnnSystemProviderSource {
  readonly interfaceGetProviders: NativeFunction;
}

/** A system source from a native function pointer with the `QnnSystemInterface_getProviders` C signature. */
export function systemProviderSourceFromPointer(description: string, systemInterfaceGetProviders: unknown): QnnSystemProviderSource {
  return {
    description,
    systemInterfaceGetProviders: koffi.decode(systemInterfaceGetProviders, abi.QnnSystemInterface_GetProvidersFn_t) as NativeFunction,
  };
}

/** A source from two native function pointers with the `getProviders` C signatures. */
export function providerSourceFromPointers(
  description: string,
  interfaceGetProviders: unknown,
  systemInterfaceGetProviders: unknown,
): QnnProviderSource {
  return {
    ...systemProviderSourceFromPointer(description, systemInterfaceGetProviders),
    interfaceGetProviders: koffi.decode(interfaceGetProviders, abi.QnnInterface_GetProvidersFn_t) as NativeFunction,
  };
}

// A backend library must stay loaded for the whole process: its provider tables die on unload, and
// reloading one in the same process can fail with QNN error 1009
// (docs/qnn-abi.md#call-order-and-teardown).
const loadedLibraries = new Map<string, LibraryHandle>();

function loadOnce(path: string, kind: QnnLibraryKind): LibraryHandle {
  let library = loadedLibraries.get(path);
  if (library === undefined) {
    library = loadLibraryFile(path, kind);
    loadedLibraries.set(path, library);
  }
  return library;
}

/**
 * A source from a backend library and libQnnSystem on disk (loaded once per process, never unloaded).
 * @throws QnnLibraryLoadError naming the file and what is wrong with it (a directory, a device, not
 * a shared library of this platform, refused by the loader, no QNN entry point), or
 * QnnLibraryNotFoundError when it has gone.
 */
export function loadQnnLibraries(backendPath: string, systemPath: string): QnnProviderSource {
  return providerSourceFromPointers(
    `${backendPath} + ${systemPath}`,
    librarySymbol(loadOnce(backendPath, 'backend'), backendPath, 'backend', QNN_INTERFACE_GET_PROVIDERS_SYMBOL),
    systemGetProviders(systemPath),
  );
}

/**
 * A system source from libQnnSystem alone (no backend library loaded: what a laptop with the SDK
 * has), loaded once per process like `loadQnnLibraries`'.
 * @throws QnnLibraryLoadError or QnnLibraryNotFoundError naming the file, as `loadQnnLibraries`.
 */
export function loadQnnSystemLibrary(systemPath: string): QnnSystemProviderSource {
  return systemProviderSourceFromPointer(systemPath, systemGetProviders(systemPath));
}

function systemGetProviders(systemPath: string): unknown {
  return librarySymbol(loadOnce(systemPath, 'system'), systemPath, 'system', QNN_SYSTEM_INTERFACE_GET_PROVIDERS_SYMBOL);
}

/** One entry of a provider list. */
export interface QnnProvider {
  readonly pointer: NativePointer;
  readonly backendId: number;
  readonly providerName: string | null;
  /** Core API version (interface providers) or system API version (system providers). */
  readonly apiVersion: QnnApiVersion;
}

function readVersion(ptr: NativePointer, offset: number): QnnApiVersion {
  return { major: readU32(ptr, offset), minor: readU32(ptr, offset + 4), patch: readU32(ptr, offset + 8) };
}

interface ProviderPrefix {
  readonly backendId: number;
  readonly providerName: number;
  readonly version: number;
}

function listProviders(getProviders: NativeFunction, symbol: string, prefix: ProviderPrefix): QnnProvider[] {
  const list: unknown[] = [null];
  const count = [0];
  checkQnn(symbol, getProviders(list, count) as number | bigint);
  if (count[0] === 0 || list[0] === null) return [];
  const pointers = Array.from(koffi.decode(list[0], 'void *', count[0]) as ArrayLike<bigint | null>);
  return pointers
    .filter((ptr): ptr is bigint => ptr !== null && ptr !== 0n)
    .map((ptr) => ({
      pointer: ptr,
      backendId: readU32(ptr, prefix.backendId),
      providerName: readCStringAt(ptr, prefix.providerName),
      apiVersion: readVersion(ptr, prefix.version),
    }));
}

function describeProviders(providers: readonly QnnProvider[], what: string): string {
  if (providers.length === 0) return 'it lists no providers';
  return `it offers ${providers
    .map((p) => `${p.providerName ?? '(unnamed)'} (backend id ${p.backendId}) with ${what} ${formatApiVersion(p.apiVersion)}`)
    .join(', ')}`;
}

function select(providers: readonly QnnProvider[], minimum: QnnApiVersion, what: string, source: string): QnnProvider {
  const chosen = providers.find((p) => p.apiVersion.major === minimum.major && p.apiVersion.minor >= minimum.minor);
  if (chosen !== undefined) return chosen;
  throw new QnnProviderError(
    `${source}: no provider with ${what} ${minimum.major}.x >= ${minimum.major}.${minimum.minor} ` +
      `(the oldest this binding supports); ${describeProviders(providers, what)}`,
  );
}

/** Lists the backend's interface providers and picks the first with core API 2.x >= 2.14. */
export function selectInterfaceProvider(source: QnnProviderSource): QnnProvider {
  const providers = listProviders(source.interfaceGetProviders, QNN_INTERFACE_GET_PROVIDERS_SYMBOL, {
    ...INTERFACE,
    version: INTERFACE.coreApiVersion,
  });
  return select(providers, MIN_CORE_API_VERSION, 'core API', `QNN backend (${source.description})`);
}

/** Lists libQnnSystem's providers and picks the first with system API 1.x >= 1.1. */
export function selectSystemProvider(source: QnnSystemProviderSource): QnnProvider {
  const providers = listProviders(
    source.systemInterfaceGetProviders,
    QNN_SYSTEM_INTERFACE_GET_PROVIDERS_SYMBOL,
    { ...SYSTEM_INTERFACE, version: SYSTEM_INTERFACE.systemApiVersion },
  );
  return select(providers, MIN_SYSTEM_API_VERSION, 'system API', `QnnSystem (${source.description})`);
}

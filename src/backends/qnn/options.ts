/**
 * Options of the QnnHtp backend, their environment overrides and validation.
 *
 * Environment (documented for the README):
 * - `GENIE_TS_QNN_PROVIDER=simulated|native`: run on the simulated HTP provider (no device or QNN
 *   SDK needed) or on the QNN libraries; the `provider` option wins. This backend does not create
 *   the simulated provider: `runtime/backend-factory.ts` does and passes it as option `simulated`.
 * - `GENIE_TS_QNN_BACKEND_LIB`, `GENIE_TS_QNN_SYSTEM_LIB`: path or file name of the backend library
 *   (default libQnnHtp.so / QnnHtp.dll) and of libQnnSystem; the `backendLibrary` / `systemLibrary`
 *   options win.
 */
import { InvalidArgumentError, NotSupportedError } from '../../errors.js';
import type { HtpContextSettings } from '../../qnn/binding/context-config.js';
import { QNN_EXECUTE_MODES, type QnnExecuteMode } from '../../qnn/binding/graph.js';
import { isQnnLogLevelName, QNN_LOG_LEVELS, type QnnLogLevelName, type QnnLogSink } from '../../qnn/binding/log.js';
import type { SharedMemoryAllocator } from '../../qnn/binding/memory.js';
import {
  DEFAULT_RPC_CONTROL_LATENCY_US,
  DEFAULT_RPC_POLLING_TIME_US,
  HTP_PERF_PROFILES,
  isHtpPerfProfile,
  type HtpPerfProfile,
  type HtpPerfSettings,
} from '../../qnn/binding/perf.js';
import { isQnnProfilingLevel, QNN_PROFILING_LEVELS, type QnnProfilingLevel } from '../../qnn/binding/profile.js';
import type { HtpExtensionsPerf } from './extensions.js';

export const QNN_PROVIDER_ENV = 'GENIE_TS_QNN_PROVIDER';
export const QNN_PROVIDERS = ['native', 'simulated'] as const;
export type QnnProviderKind = (typeof QNN_PROVIDERS)[number];

/**
 * What this backend needs of a simulated HTP provider: the two native `getProviders` function
 * pointers and `dispose`. `src/simulator`'s `SimulatedQnn` has this shape; this layer does not
 * import the simulator (it sits above the backends).
 */
export interface SimulatedQnnProvider {
  /** Native function pointer (koffi pointer) with the C signature of `QnnInterface_getProviders`. */
  readonly interfaceGetProviders: unknown;
  /** Native function pointer with the C signature of `QnnSystemInterface_getProviders`. */
  readonly systemInterfaceGetProviders: unknown;
  dispose(): void;
}

export interface QnnBackendOptions {
  /**
   * `native`: the QNN libraries; `simulated`: the JS HTP provider, which `simulated` must hold.
   * Default: `simulated` when `simulated` is given, else env `GENIE_TS_QNN_PROVIDER`, else `native`.
   */
  readonly provider?: QnnProviderKind;
  /** With `simulated`: the provider to run on. The caller owns it (it survives dispose) unless `ownsSimulated`. */
  readonly simulated?: SimulatedQnnProvider;
  /**
   * The backend takes `simulated` over: it disposes it once, when the backend is disposed or when
   * opening fails. The backend factory sets it for a provider it created.
   */
  readonly ownsSimulated?: boolean;
  /** Backend library path or file name (default `QnnHtp`'s platform name). Env `GENIE_TS_QNN_BACKEND_LIB`. */
  readonly backendLibrary?: string;
  /** libQnnSystem path or file name. Env `GENIE_TS_QNN_SYSTEM_LIB`. */
  readonly systemLibrary?: string;
  /** QNN log level (`--log`); absent: no log callback. */
  readonly logLevel?: QnnLogLevelName;
  /** Where log lines go; default stderr. */
  readonly onLog?: QnnLogSink;
  /** Perf vote; overrides the extensions file's `perf_profile`. */
  readonly perfProfile?: HtpPerfProfile;
  /** Overrides the extensions file's `rpc_control_latency` (microseconds). */
  readonly rpcControlLatencyUs?: number;
  /** `engine.backend.extensions`: the HTP extensions file read for perf settings. */
  readonly extensionsPath?: string | null;
  /**
   * QnnHtp context settings (a config's QnnHtp keys, camel-cased); a key absent or undefined, and
   * `htp` null, keep the backend's default. Through `Dialog.create`, `Engine.open` or `openBackend`
   * they merge key by key over the config's QnnHtp values: only a key set to a value overrides, so
   * `htp: {}`, `null` or a key set to undefined keep what the config gives.
   */
  readonly htp?: Partial<HtpContextSettings> | null;
  /** QnnProfile events per execute (`--profile`), read with `takeProfile()`. */
  readonly profiling?: QnnProfilingLevel;
  /** `auto` (default): rpcmem when libcdsprpc is present (native provider only); `off`: raw client buffers. */
  readonly sharedMemory?: 'auto' | 'off' | SharedMemoryAllocator;
  /**
   * `async` (default) keeps the event loop free during execute; `sync` saves the worker hop (no log
   * allowed); `queued` submits with graphExecuteAsync, so a step's splits run back to back.
   */
  readonly executeMode?: QnnExecuteMode;
  /**
   * `queued` mode: poll for each execution's end throughout it instead of from shortly before its
   * expected end (lower latency, a busy JS thread). A config's QnnHtp `poll` sets it; default false.
   */
  readonly poll?: boolean;
  /** Environment to read the overrides from; default `process.env`. */
  readonly env?: Readonly<Record<string, string | undefined>>;
}

/** The options after environment overrides, defaults and validation. */
export interface ResolvedQnnBackendOptions {
  readonly provider: QnnProviderKind;
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly perf: HtpPerfSettings | undefined;
  readonly htp: Partial<HtpContextSettings>;
}

/** The keys of option `htp`: the settings the backend applies (the config's `poll` is option `poll`). */
const HTP_SETTING_KEYS = {
  spillFillBufsize: true, mmapBudget: true, useMmap: true, enableGraphSwitching: true,
} as const satisfies Record<keyof HtpContextSettings, true>;

/** A value as the messages show it: as JSON (a bigint as `"5n"`), else its kind (a function, a cyclic object). */
function shown(value: unknown): string {
  try {
    return JSON.stringify(value, (_key, v: unknown) => (typeof v === 'bigint' ? `${v}n` : v)) ?? typeof value;
  } catch {
    return Object.prototype.toString.call(value);
  }
}

/** Throws `InvalidArgumentError` naming the option and its value; `caller` starts the message. */
function failOption(caller: string, key: string, value: unknown, what: string): never {
  throw new InvalidArgumentError(`${caller}: option ${key} ${shown(value)} ${what}`);
}

function fail(key: string, value: unknown, what: string): never {
  failOption('openQnnBackend', key, value, what);
}

/**
 * Throws unless option `key` is an object whose every key is in `known` (a misspelt one would be
 * ignored); `kind` says what it holds, `caller` starts the message.
 */
export function checkOptionObject(caller: string, key: string, value: unknown, known: Readonly<Record<string, true>>, kind: string): void {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) failOption(caller, key, value, `is not an object of ${kind}`);
  for (const [name, entry] of Object.entries(value)) {
    if (!Object.hasOwn(known, name)) {
      failOption(caller, `${key}.${name}`, entry, `is not one of the ${kind} (${Object.keys(known).join(', ')})`);
    }
  }
}

/** A native pointer as Koffi hands it out (an object) or as the simulator serves it (a non-zero address). */
function isPointer(value: unknown): boolean {
  return (typeof value === 'bigint' && value !== 0n) || (typeof value === 'object' && value !== null);
}

/** What the backend reads of a simulated provider: its two `getProviders` pointers and `dispose`. */
function isSimulatedQnnProvider(value: unknown): value is SimulatedQnnProvider {
  const v = value as Partial<SimulatedQnnProvider> | null;
  return typeof v === 'object' && v !== null && isPointer(v.interfaceGetProviders) && isPointer(v.systemInterfaceGetProviders) &&
    typeof v.dispose === 'function';
}

/** What the buffer pool calls of an allocator, and the name it logs. */
function isSharedMemoryAllocator(value: unknown): value is SharedMemoryAllocator {
  const v = value as Partial<SharedMemoryAllocator> | null;
  return typeof v === 'object' && v !== null && typeof v.name === 'string' && typeof v.alloc === 'function' &&
    typeof v.free === 'function' && typeof v.fd === 'function';
}

/**
 * The provider `options` select: option `provider`, else `simulated` when a provider is given, else
 * the environment, else `native`. Checks both options, so that the factory sees a bad `simulated`
 * before it creates a provider and no pointer of it reaches Koffi.
 */
export function resolveQnnProvider(
  options: Pick<QnnBackendOptions, 'provider' | 'simulated'>,
  env: Readonly<Record<string, string | undefined>>,
): QnnProviderKind {
  if (options.simulated !== undefined && !isSimulatedQnnProvider(options.simulated)) {
    const what = "createSimulatedQnn's: interfaceGetProviders and systemInterfaceGetProviders pointers, a dispose function";
    fail('simulated', options.simulated, `is not a simulated provider (${what})`);
  }
  if (options.provider !== undefined) {
    if (!(QNN_PROVIDERS as readonly string[]).includes(options.provider)) {
      fail('provider', options.provider, `is not one of ${QNN_PROVIDERS.join(', ')}`);
    }
    return options.provider;
  }
  if (options.simulated !== undefined) return 'simulated';
  const fromEnv = env[QNN_PROVIDER_ENV];
  if (fromEnv === undefined || fromEnv === '') return 'native';
  if (!(QNN_PROVIDERS as readonly string[]).includes(fromEnv)) {
    throw new InvalidArgumentError(
      `openQnnBackend: environment ${QNN_PROVIDER_ENV}="${fromEnv}" is not one of ${QNN_PROVIDERS.join(', ')}`,
    );
  }
  return fromEnv as QnnProviderKind;
}

function resolvePerf(options: QnnBackendOptions, extensions: HtpExtensionsPerf): HtpPerfSettings | undefined {
  const latency = options.rpcControlLatencyUs ?? extensions.rpcControlLatencyUs;
  if (latency !== undefined && !(Number.isSafeInteger(latency) && latency >= 0)) {
    fail('rpcControlLatencyUs', latency, 'is not a non-negative integer (microseconds)');
  }
  const profile = options.perfProfile ?? extensions.perfProfile;
  if (profile === undefined) return undefined;
  if (!isHtpPerfProfile(profile)) {
    const where =
      options.perfProfile !== undefined
        ? 'option perfProfile'
        : `HTP extensions file "${options.extensionsPath}" key devices[0].cores[0].perf_profile`;
    throw new NotSupportedError(`${where}: perf profile "${profile}" is not supported (supported: ${HTP_PERF_PROFILES.join(', ')})`);
  }
  return {
    profile,
    rpcControlLatencyUs: latency ?? DEFAULT_RPC_CONTROL_LATENCY_US,
    rpcPollingTimeUs: DEFAULT_RPC_POLLING_TIME_US,
  };
}

function checkHtp(htp: Partial<HtpContextSettings> | null | undefined): void {
  if (htp === undefined || htp === null) return;
  checkOptionObject('openQnnBackend', 'htp', htp, HTP_SETTING_KEYS, 'QnnHtp settings');
  for (const key of ['spillFillBufsize', 'mmapBudget'] as const) {
    const value = htp[key];
    if (value !== undefined && !(Number.isSafeInteger(value) && value >= 0)) fail(`htp.${key}`, value, 'is not a non-negative integer');
  }
  for (const key of ['useMmap', 'enableGraphSwitching'] as const) {
    const value = htp[key];
    if (value !== undefined && typeof value !== 'boolean') fail(`htp.${key}`, value, 'is not a boolean');
  }
}

/** The settings set to a value: one set to undefined keeps the backend's default. */
function resolveHtp(htp: Partial<HtpContextSettings> | null | undefined): Partial<HtpContextSettings> {
  return Object.fromEntries(Object.entries(htp ?? {}).filter(([, value]) => value !== undefined));
}

function checkEnv(env: QnnBackendOptions['env']): void {
  if (env === undefined) return;
  if (typeof env !== 'object' || env === null || Array.isArray(env)) fail('env', env, 'is not an object of environment variables (strings)');
  for (const [name, value] of Object.entries(env)) {
    if (value !== undefined && typeof value !== 'string') fail(`env.${name}`, value, 'is not a string');
  }
}

/**
 * Checks the kind of every option but `provider` and `simulated` (resolveQnnProvider checks those)
 * and the perf options (checked with the extensions file's values). Nothing is read or loaded: the
 * backend factory calls it before it creates a simulated provider.
 */
export function checkQnnBackendOptions(options: QnnBackendOptions): void {
  checkEnv(options.env);
  for (const key of ['backendLibrary', 'systemLibrary'] as const) {
    const value = options[key];
    if (value !== undefined && (typeof value !== 'string' || value === '')) {
      fail(key, value, 'is not a path or file name (a non-empty string)');
    }
  }
  const extensions = options.extensionsPath;
  if (extensions !== undefined && extensions !== null && typeof extensions !== 'string') {
    fail('extensionsPath', extensions, 'is not a path (a string) or null');
  }
  if (options.logLevel !== undefined && !isQnnLogLevelName(options.logLevel)) {
    fail('logLevel', options.logLevel, `is not one of ${QNN_LOG_LEVELS.join(', ')}`);
  }
  if (options.onLog !== undefined && typeof options.onLog !== 'function') fail('onLog', options.onLog, 'is not a function');
  if (options.profiling !== undefined && !isQnnProfilingLevel(options.profiling)) {
    fail('profiling', options.profiling, `is not one of ${QNN_PROFILING_LEVELS.join(', ')}`);
  }
  if (options.executeMode !== undefined && !QNN_EXECUTE_MODES.includes(options.executeMode)) {
    fail('executeMode', options.executeMode, 'is not "async", "sync" or "queued"');
  }
  if (options.poll !== undefined && typeof options.poll !== 'boolean') fail('poll', options.poll, 'is not a boolean');
  const shared = options.sharedMemory;
  if (shared !== undefined && shared !== 'auto' && shared !== 'off' && !isSharedMemoryAllocator(shared)) {
    fail('sharedMemory', shared, 'is not "auto", "off" or a SharedMemoryAllocator (alloc, free and fd functions, a name)');
  }
  checkHtp(options.htp);
}

/** Validates `options` (throws `InvalidArgumentError` / `NotSupportedError` naming the option and value). */
export function resolveQnnBackendOptions(options: QnnBackendOptions, extensions: HtpExtensionsPerf): ResolvedQnnBackendOptions {
  checkQnnBackendOptions(options);
  const env = options.env ?? process.env;
  const provider = resolveQnnProvider(options, env);
  checkSimulatedOption(provider, options, 'openQnnBackend');
  return { provider, env, perf: resolvePerf(options, extensions), htp: resolveHtp(options.htp) };
}

/** Throws unless option `simulated` is given exactly when `provider` is the simulated one; `caller` starts the message. */
export function checkSimulatedOption(provider: QnnProviderKind, options: Pick<QnnBackendOptions, 'simulated'>, caller: string): void {
  if (provider === 'native' && options.simulated !== undefined) {
    throw new InvalidArgumentError(`${caller}: option simulated contradicts provider "native"`);
  }
  if (provider === 'simulated' && options.simulated === undefined) {
    throw new InvalidArgumentError(
      `${caller}: provider "simulated" (option provider or ${QNN_PROVIDER_ENV}) needs a simulated provider in option simulated; ` +
        'openBackend / Dialog.create create one (runtime/backend-factory.ts)',
    );
  }
}

import type { GraphBackend } from '../backends/backend.js';
import type { QnnBackendOptions, QnnGraphBackend, QnnSystemOptions } from '../backends/qnn/index.js';
import { openReferenceBackend } from '../backends/reference/index.js';
import { InvalidArgumentError, NotSupportedError } from '../errors.js';
import type { GraphSpec } from '../graphs/spec.js';
import type { SimulatedQnn, SimulatedQnnOptions } from '../simulator/index.js';
import { isRuntimeBackendType, type RuntimeBackendType } from './backend-registry.js';
import { checkOptionKeys } from './check-options.js';
import type { DerivedDialog, DerivedHtp } from './config/derive.js';

/**
 * What opening a backend needs from a derived config: a dialog's (`DerivedDialog`) or an image
 * encoder's. `htp` holds the QnnHtp values present; an absent one keeps the backend's default.
 */
export interface BackendTarget extends Pick<DerivedDialog, 'backendType' | 'ctxBins' | 'extensionsPath'> {
  readonly htp: Partial<DerivedHtp> | null;
}

/** QnnHtp backend options as the factory takes them: the backend's own plus `simulatedOptions`. */
export interface QnnHtpOptions extends Omit<QnnBackendOptions, 'ownsSimulated'> {
  /**
   * With the simulated provider and no `simulated` instance: options of the provider the factory
   * creates and the backend disposes. Given alone, it selects the simulated provider.
   */
  readonly simulatedOptions?: SimulatedQnnOptions;
}

export interface BackendOptions {
  /**
   * QnnHtp backend options (provider, libraries, log level, perf profile, profiling, ...). The
   * simulated HTP provider is selected with `{ provider: 'simulated' }` or the environment variable
   * `GENIE_TS_QNN_PROVIDER=simulated`. An option set to a value other than undefined overrides what
   * the config gives (`extensionsPath`, `poll`); `htp` does so key by key.
   */
  readonly qnn?: QnnHtpOptions;
}

/**
 * Opens the QnnHtp backend on the provider `options` select. For the simulated provider without a
 * `simulated` instance it creates one and hands it over (`ownsSimulated`): the backend disposes it
 * when it is disposed or fails to open. An instance the caller passes stays the caller's.
 */
export async function openQnnHtpBackend(ctxBins: readonly string[], options: QnnHtpOptions = {}): Promise<QnnGraphBackend> {
  const { openQnnBackend } = await import('../backends/qnn/index.js');
  const { checkQnnBackendOptions } = await import('../backends/qnn/options.js');
  const { simulatedOptions, ...qnn } = options;
  // Before a provider is created or a file read (the backend reads the extensions file first).
  checkQnnBackendOptions(qnn);
  const created = await simulatedProviderToCreate(qnn, simulatedOptions, 'openQnnBackend');
  if (created === undefined) return openQnnBackend(ctxBins, qnn);
  return openQnnBackend(ctxBins, { ...qnn, provider: 'simulated', simulated: created, ownsSimulated: true });
}

/** Options of reading QNN context binaries' graphs: the system provider's, plus `simulatedOptions` as in `QnnHtpOptions`. */
export interface QnnSystemReadOptions extends QnnSystemOptions {
  readonly simulatedOptions?: SimulatedQnnOptions;
}

/**
 * The graphs of QNN context binaries from QnnSystem's binary info alone: only libQnnSystem is
 * loaded (the simulated provider's system part when selected), no backend, device or context is
 * created. A simulated provider created here lives for the read only.
 */
export async function readQnnCtxBinGraphs(ctxBins: readonly string[], options: QnnSystemReadOptions = {}): Promise<GraphSpec[]> {
  const { readQnnGraphSpecs } = await import('../backends/qnn/index.js');
  const { simulatedOptions, ...qnn } = options;
  const created = await simulatedProviderToCreate(qnn, simulatedOptions, 'readQnnGraphSpecs');
  if (created === undefined) return readQnnGraphSpecs(ctxBins, qnn);
  try {
    return await readQnnGraphSpecs(ctxBins, { ...qnn, provider: 'simulated', simulated: created });
  } finally {
    created.dispose();
  }
}

/**
 * A new simulated provider when the options select the simulated one without handing an instance
 * (`simulatedOptions` alone selects it), else undefined; `caller` starts the message of a contradiction.
 */
async function simulatedProviderToCreate(
  qnn: QnnSystemOptions,
  simulatedOptions: SimulatedQnnOptions | undefined,
  caller: string,
): Promise<SimulatedQnn | undefined> {
  const { checkOptionObject, resolveQnnProvider } = await import('../backends/qnn/options.js');
  if (simulatedOptions !== undefined) {
    checkOptionObject(caller, 'simulatedOptions', simulatedOptions, SIMULATED_OPTION_KEYS, 'simulated provider options');
  }
  const selection = simulatedOptions === undefined ? qnn : { ...qnn, provider: qnn.provider ?? 'simulated' };
  const provider = resolveQnnProvider(selection, qnn.env ?? process.env);
  if (provider === 'native' && simulatedOptions !== undefined) {
    throw new InvalidArgumentError(`${caller}: option simulatedOptions contradicts provider "native"`);
  }
  if (provider === 'native' || qnn.simulated !== undefined) return undefined;
  // Loaded on demand so production code never pulls the simulator in.
  const { createSimulatedQnn } = await import('../simulator/index.js');
  return createSimulatedQnn(simulatedOptions);
}

/** createSimulatedQnn's options: it ignores any other key, so a misspelt one would select a default. */
const SIMULATED_OPTION_KEYS = {
  coreApiVersion: true, systemApiVersion: true, nullSlots: true, extraProviders: true, failExecute: true, platform: true,
  binaryInfoVersion: true, graphInfoVersion: true, validateOnly: true,
} as const satisfies Record<keyof SimulatedQnnOptions, true>;

const BACKEND_OPTION_KEYS = { qnn: true } as const satisfies Record<keyof BackendOptions, true>;

const QNN_OPTION_KEYS = {
  provider: true, simulated: true, simulatedOptions: true, backendLibrary: true, systemLibrary: true, logLevel: true,
  onLog: true, perfProfile: true, rpcControlLatencyUs: true, extensionsPath: true, htp: true, profiling: true,
  sharedMemory: true, executeMode: true, poll: true, env: true,
} as const satisfies Record<keyof QnnHtpOptions, true>;

/**
 * Rejects unknown keys of a `backend` option (`Dialog.create`'s, or the call `what` names) and of
 * its `qnn` block (a misspelt option would otherwise be ignored); the QnnHtp backend checks the
 * values when it opens.
 */
export function checkBackendOptions(options: unknown, what = 'Dialog.create'): void {
  checkOptionKeys(`${what} options.backend`, options, BACKEND_OPTION_KEYS);
  checkOptionKeys(`${what} options.backend.qnn`, (options as BackendOptions | undefined)?.qnn, QNN_OPTION_KEYS);
}

/** `options` without the keys set to undefined, which callers forwarding optional settings pass. */
function definedOnly<T extends object>(options: T): Partial<T> {
  return Object.fromEntries(Object.entries(options).filter(([, value]) => value !== undefined)) as Partial<T>;
}

/**
 * The config's QnnHtp values under the `qnn` options set to a value: `htp` key by key, any other
 * option whole. The config's `poll` is option `poll`.
 */
function qnnOverConfig(config: BackendTarget, qnn: QnnHtpOptions = {}): QnnHtpOptions {
  const { htp, ...rest } = qnn;
  const poll = config.htp?.poll;
  return { extensionsPath: config.extensionsPath, ...definedOnly({ poll }), ...definedOnly(rest), htp: htpOverConfig(config.htp, htp) };
}

/** The config's settings the backend applies under the keys of `htp` set to a value (`htp` null sets none). */
function htpOverConfig(config: BackendTarget['htp'], htp: QnnHtpOptions['htp']): QnnHtpOptions['htp'] {
  const { spillFillBufsize, mmapBudget, useMmap, enableGraphSwitching } = config ?? {};
  const fromConfig = definedOnly({ spillFillBufsize, mmapBudget, useMmap, enableGraphSwitching });
  if (htp === undefined || htp === null) return fromConfig;
  // A value of the wrong kind goes through unmerged, for the backend to reject naming it.
  if (typeof htp !== 'object' || Array.isArray(htp)) return htp;
  return { ...fromConfig, ...definedOnly(htp) };
}

type BackendOpener = (config: BackendTarget, options: BackendOptions) => Promise<GraphBackend>;

/** An opener per backend type genie-ts runs (the registry's `runs`); the compiler checks none is missing. */
const OPENERS: Record<RuntimeBackendType, BackendOpener> = {
  QnnHtp: (config, options) => openQnnHtpBackend(config.ctxBins, qnnOverConfig(config, options.qnn)),
  Reference: async (config) => openReferenceBackend(config.ctxBins),
};

/**
 * The one place that maps `engine.backend.type` to a backend implementation. The QNN backend and
 * the simulated provider are imported lazily so the others load without touching native code.
 */
export async function openBackend(config: BackendTarget, options: BackendOptions = {}): Promise<GraphBackend> {
  const type = config.backendType;
  if (!isRuntimeBackendType(type)) throw new NotSupportedError(`not supported yet: engine.backend.type "${type}"`);
  return OPENERS[type](config, options);
}

/** Options of the simulated QNN HTP provider, their defaults and validation. */
import { InvalidArgumentError } from '../errors.js';
import { QnnHtpDeviceArch } from '../qnn/enums.js';
import { CORE_SLOT_INDEX, type CoreSlotName } from '../qnn/slots.js';
import { GRAPH_INFO_SIZE, graphInfoStride } from './layout.js';

export interface ApiVersionTriple {
  readonly major: number;
  readonly minor: number;
  readonly patch: number;
}

export interface SimulatedQnnOptions {
  /** Core API version the provider reports (default {major: 2, minor: 32, patch: 0}). */
  coreApiVersion?: ApiVersionTriple;
  /** System API version (default {1, 7, 0}); minor < 1 means no getMetaData (slot 2 NULL). */
  systemApiVersion?: ApiVersionTriple;
  /** Core slot names (as in src/qnn/slots.ts CORE_SLOTS) served as NULL pointers. */
  nullSlots?: readonly string[];
  /** Extra providers to list before the HTP one (e.g. one with core API major 1) for provider-selection tests. */
  extraProviders?: readonly { backendId: number; coreApiVersion: ApiVersionTriple }[];
  /** Make graphExecute (and graphExecuteAsync, through its notify) of this graph fail with this QNN error code (test hook). */
  failExecute?: { graph: string; code: number };
  /** Platform info reported by deviceGetPlatformInfo. */
  platform?: { socModel: number; arch: number; vtcmSizeMb: number };
  /**
   * `QnnSystemContext_BinaryInfo_t` version the system context answers with. Default by core API
   * minor: 3 from 2.21, 2 from 2.17, else 1.
   */
  binaryInfoVersion?: 1 | 2 | 3;
  /**
   * Version tag of every `GraphInfo` element; default as `binaryInfoVersion`. The array stride
   * always follows the core API minor (docs/qnn-abi.md#graph-info-and-its-stride), so the version
   * must fit in it.
   */
  graphInfoVersion?: 1 | 2 | 3;
  /** Validate every graphExecute argument but skip running the graph (for per-call overhead benchmarks). */
  validateOnly?: boolean;
}

export interface ResolvedOptions {
  readonly coreApiVersion: ApiVersionTriple;
  readonly systemApiVersion: ApiVersionTriple;
  readonly nullSlots: ReadonlySet<CoreSlotName>;
  readonly extraProviders: readonly { backendId: number; coreApiVersion: ApiVersionTriple }[];
  readonly failExecute?: { graph: string; code: number };
  readonly platform: { socModel: number; arch: number; vtcmSizeMb: number };
  readonly binaryInfoVersion: 1 | 2 | 3;
  readonly graphInfoVersion: 1 | 2 | 3;
  readonly validateOnly: boolean;
}

/** SM8650 (Snapdragon 8 Gen 3): socModel 57, Hexagon V75, 8 MB VTCM. */
const DEFAULT_PLATFORM = { socModel: 57, arch: QnnHtpDeviceArch.V75, vtcmSizeMb: 8 };

function fail(key: string, value: unknown, what: string): never {
  throw new InvalidArgumentError(`createSimulatedQnn: options.${key} ${JSON.stringify(value)} ${what}`);
}

const isUint32 = (value: unknown): value is number =>
  typeof value === 'number' && Number.isInteger(value) && value >= 0 && value <= 0xffff_ffff;

function version(key: string, value: ApiVersionTriple | undefined, fallback?: ApiVersionTriple): ApiVersionTriple {
  if (value === undefined && fallback !== undefined) return fallback;
  if (typeof value !== 'object' || value === null || ![value.major, value.minor, value.patch].every(isUint32)) {
    fail(key, value, 'is not {major, minor, patch} of uint32 values');
  }
  return { major: value.major, minor: value.minor, patch: value.patch };
}

function defaultInfoVersion(coreMinor: number): 1 | 2 | 3 {
  if (coreMinor >= 21) return 3;
  if (coreMinor >= 17) return 2;
  return 1;
}

/** Checks the failExecute hook (option, or `SimulatedQnn.setFailExecute`); throws `InvalidArgumentError` naming the bad key. */
export function checkFailExecute(failExecute: { graph: string; code: number }): void {
  if (typeof failExecute.graph !== 'string' || failExecute.graph === '') {
    fail('failExecute.graph', failExecute.graph, 'is not a graph name');
  }
  if (!Number.isInteger(failExecute.code) || failExecute.code < 1 || failExecute.code > 0xffff) {
    fail('failExecute.code', failExecute.code, 'is not a QNN error code in 1..65535');
  }
}

/** Fills in defaults; throws `InvalidArgumentError` naming the option and value. */
export function resolveOptions(options: SimulatedQnnOptions = {}): ResolvedOptions {
  const coreApiVersion = version('coreApiVersion', options.coreApiVersion, { major: 2, minor: 32, patch: 0 });
  const systemApiVersion = version('systemApiVersion', options.systemApiVersion, { major: 1, minor: 7, patch: 0 });

  const nullSlots = new Set<CoreSlotName>();
  for (const name of options.nullSlots ?? []) {
    if (!Object.prototype.hasOwnProperty.call(CORE_SLOT_INDEX, name)) {
      fail('nullSlots', name, 'is not a core slot name (see CORE_SLOTS)');
    }
    nullSlots.add(name as CoreSlotName);
  }

  const extraProviders = (options.extraProviders ?? []).map((extra, i) => {
    if (!isUint32(extra?.backendId)) fail(`extraProviders[${i}].backendId`, extra?.backendId, 'is not a uint32');
    return {
      backendId: extra.backendId,
      coreApiVersion: version(`extraProviders[${i}].coreApiVersion`, extra.coreApiVersion),
    };
  });

  const failExecute = options.failExecute;
  if (failExecute !== undefined) checkFailExecute(failExecute);

  const platform = options.platform ?? DEFAULT_PLATFORM;
  for (const key of ['socModel', 'arch', 'vtcmSizeMb'] as const) {
    if (!isUint32(platform[key])) fail(`platform.${key}`, platform[key], 'is not a uint32');
  }

  const coreMinor = coreApiVersion.minor;
  const binaryInfoVersion = options.binaryInfoVersion ?? defaultInfoVersion(coreMinor);
  if (![1, 2, 3].includes(binaryInfoVersion)) fail('binaryInfoVersion', binaryInfoVersion, 'is not 1, 2 or 3');
  const stride = graphInfoStride(coreMinor);
  const graphInfoVersion = options.graphInfoVersion ?? Math.min(binaryInfoVersion, defaultInfoVersion(coreMinor));
  if (![1, 2, 3].includes(graphInfoVersion)) fail('graphInfoVersion', graphInfoVersion, 'is not 1, 2 or 3');
  if (GRAPH_INFO_SIZE[graphInfoVersion as 1 | 2 | 3] > stride) {
    fail(
      'graphInfoVersion',
      graphInfoVersion,
      `does not fit the ${stride}-byte GraphInfo stride of core API ${coreApiVersion.major}.${coreMinor}`,
    );
  }

  return {
    coreApiVersion,
    systemApiVersion,
    nullSlots,
    extraProviders,
    failExecute: failExecute === undefined ? undefined : { graph: failExecute.graph, code: failExecute.code },
    platform: { socModel: platform.socModel, arch: platform.arch, vtcmSizeMb: platform.vtcmSizeMb },
    binaryInfoVersion: binaryInfoVersion as 1 | 2 | 3,
    graphInfoVersion: graphInfoVersion as 1 | 2 | 3,
    validateOnly: options.validateOnly === true,
  };
}

/**
 * Backend, device, platform info, capabilities and error messages of the simulated HTP
 * (docs/qnn-abi.md#capability-keys, docs/qnn-abi.md#device-platform-info,
 * docs/qnn-abi.md#htp-performance-infrastructure).
 */
import { QnnLogLevel, QnnPropertyResult } from '../qnn/enums.js';
import { Code, fail } from './failure.js';
import { checkBackendConfigs, checkDeviceConfigs } from './configs.js';
import { Version } from './layout.js';
import { addressOf, hex, NativeArena, nativeView, NULL, storePointer, type Address, type PointerArg } from './native.js';
import type { SimPerf } from './perf.js';
import { writePlatformInfo } from './platform-info.js';
import { buildIdOf, htpBackendApiVersionOf } from './sdk.js';
import type { Handler, Simulator } from './simulator.js';

/**
 * `propertyHasCapability` keys (docs/qnn-abi.md#capability-keys): group keys and the specific ones
 * callers check.
 */
const SUPPORTED_PROPERTIES: readonly number[] = [
  1, // CORE
  101, // BACKEND
  201, // CONTEXT
  301, // GRAPH
  501, // TENSOR
  1001, // ERROR
  1101, // MEMORY
  1102, // MEMORY_SUPPORT_MEM_TYPE_ION
  1103, // MEMORY_SUPPORT_MEM_TYPE_CUSTOM
  1301, // LOG
  1401, // PROFILE
  1501, // DEVICE
];
const UNSUPPORTED_PROPERTIES: readonly number[] = [
  213, // CONTEXT_SUPPORT_BINARY_UPDATES
  321, // GRAPH_SUPPORT_EARLY_TERMINATION
  401, // OP_PACKAGE
  504, // TENSOR_SUPPORT_DYNAMIC_DIMENSIONS
  1002, // ERROR_GET_VERBOSE_MESSAGE
  1104, // MEMORY_SUPPORT_MEM_TYPE_DMA_BUF
  1201, // SIGNAL
  1404, // PROFILE_SUPPORTS_EXTENDED_EVENT
  1405, // PROFILE_SUPPORTS_OPTRACE_CONFIG
  2001, // CUSTOM
];

const KEPT_MESSAGE_STRINGS = 256;

type BackendSlot =
  | 'propertyHasCapability'
  | 'backendCreate'
  | 'backendGetApiVersion'
  | 'backendGetBuildId'
  | 'backendFree'
  | 'deviceCreate'
  | 'deviceFree'
  | 'deviceGetPlatformInfo'
  | 'deviceFreePlatformInfo'
  | 'deviceGetInfrastructure'
  | 'errorGetMessage';

export class SimBackends {
  /** Platform infos handed out and not yet freed, by address. */
  private readonly platformInfos = new Map<Address, NativeArena>();
  /** Native copies of the messages errorGetMessage handed out, oldest first. */
  private readonly messages = new Map<string, { arena: NativeArena; address: Address }>();
  private readonly buildId: Address;

  constructor(
    private readonly sim: Simulator,
    private readonly perf: SimPerf,
  ) {
    this.buildId = sim.arena.string(buildIdOf(sim.options.coreApiVersion));
    sim.onDispose(() => {
      for (const arena of this.platformInfos.values()) arena.free();
      for (const { arena } of this.messages.values()) arena.free();
    });
  }

  /** Platform infos not yet freed. */
  get live(): number {
    return this.platformInfos.size;
  }

  handlers(): Record<BackendSlot, Handler> {
    const sim = this.sim;
    return {
      propertyHasCapability: (key: number): void => {
        if (SUPPORTED_PROPERTIES.includes(key)) return;
        if (UNSUPPORTED_PROPERTIES.includes(key)) fail(QnnPropertyResult.NOT_SUPPORTED, `property ${key} is not supported`);
        fail(QnnPropertyResult.ERROR_UNKNOWN_KEY, `property key ${key} is unknown`);
      },
      backendCreate: (log: PointerArg, configs: PointerArg, out: PointerArg): void => {
        sim.logs.requireOptional(addressOf(log), Code.BACKEND_INVALID_HANDLE, 'log');
        if (addressOf(out) === NULL) fail(Code.BACKEND_INVALID_ARGUMENT, 'backend out-pointer is NULL');
        checkBackendConfigs(addressOf(configs), Code.BACKEND_INVALID_CONFIG);
        storePointer(addressOf(out), sim.backends.issue({ log: addressOf(log) }));
        const { major, minor, patch } = sim.options.coreApiVersion;
        sim.logs.emit(QnnLogLevel.INFO, `simulated HTP backend created (core API ${major}.${minor}.${patch})`);
      },
      backendGetApiVersion: (out: PointerArg): void => {
        if (addressOf(out) === NULL) fail(Code.BACKEND_INVALID_ARGUMENT, 'pApiVersion is NULL');
        const view = nativeView(addressOf(out), 2 * Version.size);
        const core = sim.options.coreApiVersion;
        const backend = htpBackendApiVersionOf(core);
        [core.major, core.minor, core.patch, backend.major, backend.minor, backend.patch].forEach((value, i) =>
          view.setUint32(i * 4, value, true),
        );
      },
      backendGetBuildId: (out: PointerArg): void => {
        if (addressOf(out) === NULL) fail(Code.BACKEND_INVALID_ARGUMENT, 'id out-pointer is NULL');
        storePointer(addressOf(out), this.buildId);
      },
      backendFree: (backend: PointerArg): void => {
        const handle = addressOf(backend);
        if (!sim.backends.has(handle)) fail(Code.BACKEND_INVALID_HANDLE, `backend ${hex(handle)} is not a live backend handle`);
        const contexts = [...sim.contexts.values()].filter((ctx) => ctx.backend === handle).length;
        if (contexts > 0) {
          fail(Code.BACKEND_TERMINATE_FAILED, `backend ${hex(handle)} still has ${contexts} context(s); free them first (FILO)`);
        }
        sim.backends.release(handle);
      },
      deviceCreate: (log: PointerArg, configs: PointerArg, out: PointerArg): void => {
        sim.logs.requireOptional(addressOf(log), Code.DEVICE_INVALID_HANDLE, 'log');
        if (addressOf(out) === NULL) fail(Code.COMMON_INVALID_ARGUMENT, 'device out-pointer is NULL');
        checkDeviceConfigs(addressOf(configs), Code.DEVICE_INVALID_CONFIG, sim.options.platform);
        storePointer(addressOf(out), sim.devices.issue({ log: addressOf(log) }));
        const { socModel, arch, vtcmSizeMb } = sim.options.platform;
        sim.logs.emit(QnnLogLevel.INFO, `simulated HTP device created (SoC model ${socModel}, V${arch}, ${vtcmSizeMb} MB VTCM)`);
      },
      deviceFree: (device: PointerArg): void => {
        const handle = addressOf(device);
        if (!sim.devices.has(handle)) fail(Code.DEVICE_INVALID_HANDLE, `device ${hex(handle)} is not a live device handle`);
        const contexts = [...sim.contexts.values()].filter((ctx) => ctx.device === handle).length;
        if (contexts > 0) {
          fail(Code.DEVICE_ASSOCIATED_TO_CONTEXT, `device ${hex(handle)} still has ${contexts} associated context(s)`);
        }
        sim.devices.release(handle);
      },
      deviceGetPlatformInfo: (log: PointerArg, out: PointerArg): void => {
        sim.logs.requireOptional(addressOf(log), Code.DEVICE_INVALID_HANDLE, 'log');
        if (addressOf(out) === NULL) fail(Code.COMMON_INVALID_ARGUMENT, 'platformInfo out-pointer is NULL');
        const arena = new NativeArena();
        const info = writePlatformInfo(arena, sim.options.platform);
        this.platformInfos.set(info, arena);
        storePointer(addressOf(out), info);
      },
      deviceFreePlatformInfo: (log: PointerArg, info: PointerArg): void => {
        sim.logs.requireOptional(addressOf(log), Code.DEVICE_INVALID_HANDLE, 'log');
        const arena = this.platformInfos.get(addressOf(info));
        if (arena === undefined) {
          fail(Code.COMMON_INVALID_ARGUMENT, `platformInfo ${hex(addressOf(info))} was not returned by deviceGetPlatformInfo or is freed`);
        }
        arena.free();
        this.platformInfos.delete(addressOf(info));
      },
      deviceGetInfrastructure: (out: PointerArg): void => {
        if (addressOf(out) === NULL) fail(Code.COMMON_INVALID_ARGUMENT, 'deviceInfra out-pointer is NULL');
        storePointer(addressOf(out), this.perf.infrastructure);
      },
      errorGetMessage: (error: number | bigint, out: PointerArg): void => {
        if (addressOf(out) === NULL) fail(Code.COMMON_INVALID_ARGUMENT, 'errorMessage out-pointer is NULL');
        const handle = typeof error === 'bigint' ? Number(error) : error;
        storePointer(addressOf(out), this.messageString(this.sim.errors.messageOf(handle)));
      },
    };
  }

  /** A native copy of `message`; the last KEPT_MESSAGE_STRINGS distinct messages stay valid. */
  private messageString(message: string): Address {
    const kept = this.messages.get(message);
    if (kept !== undefined) return kept.address;
    const arena = new NativeArena();
    this.messages.set(message, { arena, address: arena.string(message) });
    if (this.messages.size > KEPT_MESSAGE_STRINGS) {
      const [oldest, { arena: old }] = this.messages.entries().next().value!;
      old.free();
      this.messages.delete(oldest);
    }
    return this.messages.get(message)!.address;
  }
}

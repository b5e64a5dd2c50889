/**
 * The simulated QNN HTP provider: real `QnnInterface_t` / `QnnSystemInterface_t` structs in native
 * memory whose function tables hold Koffi-registered JS functions, reachable through two native
 * `getProviders` function pointers, exactly as `libQnnHtp` / `libQnnSystem` export them.
 */
import { InvalidArgumentError } from '../errors.js';
import { QnnBackendId } from '../qnn/enums.js';
import { CORE_SLOTS, SYSTEM_SLOTS, type CoreSlotName } from '../qnn/slots.js';
import { SimBackends } from './backends.js';
import { SimContexts, type SimulatedContextInfo } from './contexts.js';
import { SimExecuteQueue } from './execute-queue.js';
import { Code, fail } from './failure.js';
import { Interface, POINTER_SIZE, SystemInterface } from './layout.js';
import { SimMemory, type SimulatedRpcmem } from './memory.js';
import { addressOf, NULL, storePointer, storeUint32, writePointer, type Address, type PointerArg } from './native.js';
import { checkFailExecute, resolveOptions, type ApiVersionTriple, type SimulatedQnnOptions } from './options.js';
import { SimPerf, type PerfCall } from './perf.js';
import { SimProfiles } from './profiles.js';
import { CoreProtos, GetProvidersProto, SystemProtos, type ServedCoreSlot } from './protos.js';
import { htpBackendApiVersionOf, writeVersion } from './sdk.js';
import { Simulator, type Handler } from './simulator.js';
import { SimSystem } from './system.js';

export interface SimulatedQnn {
  /** Native function pointer (koffi pointer) with the C signature of `QnnInterface_getProviders`. */
  readonly interfaceGetProviders: unknown;
  /** Native function pointer with the C signature of `QnnSystemInterface_getProviders`. */
  readonly systemInterfaceGetProviders: unknown;
  /**
   * Live handles (backends, devices, contexts, graphs, mem handles, logs, profiles) for leak checks;
   * also counts system contexts, platform infos, power config ids and rpcmem buffers not yet freed.
   */
  liveHandles(): number;
  /** Per-function call counts, e.g. calls('graphExecute'); throws for a name the provider does not serve. */
  calls(name: string): number;
  /** Unregisters every callback and frees the provider's native memory; idempotent. */
  dispose(): void;
  /** Stand-in for libcdsprpc: native `rpcmem_alloc` / `rpcmem_free` / `rpcmem_to_fd` with fake fds. */
  readonly rpcmem: SimulatedRpcmem;
  /** Every call of the HTP perf infrastructure functions, decoded. */
  perfCalls(): readonly PerfCall[];
  /** The live contexts with their decoded configs. */
  contexts(): readonly SimulatedContextInfo[];
  /** Sets (null: removes) the `failExecute` test hook from the next execution on. */
  setFailExecute(hook: { graph: string; code: number } | null): void;
}

const HTP_PROVIDER_NAME = 'HTP_QTI_AISW';
const SYSTEM_PROVIDER_NAME = 'SYSTEM_QTI_AISW';
const PROVIDER_NAMES: Readonly<Record<number, string>> = {
  [QnnBackendId.CPU]: 'CPU_QTI_AISW',
  [QnnBackendId.HTP]: HTP_PROVIDER_NAME,
  [QnnBackendId.HTP_QEMU]: 'HTP_QEMU_QTI_AISW',
};
/** System API 1.1 (SDK <= 2.25) has slots 0-3; later ones 16 (docs/qnn-abi.md#system-function-table). */
const systemSlotCount = (minor: number): number => (minor >= 2 ? 16 : 4);

/**
 * How many leading core slots a provider with this API version fills in
 * (docs/qnn-abi.md#core-function-table). Before API 2.9 the real table had other indices; such a
 * provider only exists to be rejected.
 */
function coreSlotCount(version: ApiVersionTriple): number {
  if (version.major !== 2) return 0;
  let count = 0;
  while (count < CORE_SLOTS.length && CORE_SLOTS[count].sinceMinor <= version.minor) count++;
  return count;
}

/** A `QnnInterface_t` with the given table entries (missing ones NULL). */
function writeCoreInterface(
  sim: Simulator,
  backendId: number,
  version: ApiVersionTriple,
  table: ReadonlyMap<number, Address>,
): Address {
  const block = sim.arena.alloc(Interface.table + coreSlotCount(version) * POINTER_SIZE);
  block.view.setUint32(Interface.backendId, backendId, true);
  writePointer(block.view, Interface.providerName, sim.arena.string(PROVIDER_NAMES[backendId] ?? `BACKEND_${backendId}_SIM`));
  writeVersion(block.view, Interface.coreApiVersion, version);
  writeVersion(block.view, Interface.backendApiVersion, htpBackendApiVersionOf(version));
  for (const [index, fn] of table) writePointer(block.view, Interface.table + index * POINTER_SIZE, fn);
  return block.address;
}

/** A provider list and a native `getProviders` serving it under `name`. */
function serveProviderList(sim: Simulator, name: string, providers: readonly Address[]): Address {
  const list = sim.arena.alloc(providers.length * POINTER_SIZE);
  providers.forEach((provider, i) => writePointer(list.view, i * POINTER_SIZE, provider));
  return sim.serve(name, GetProvidersProto, (outList: PointerArg, outCount: PointerArg): void => {
    if (addressOf(outList) === NULL || addressOf(outCount) === NULL) {
      fail(Code.COMMON_INVALID_ARGUMENT, 'providerList and numProviders must not be NULL');
    }
    storePointer(addressOf(outList), list.address);
    storeUint32(addressOf(outCount), providers.length);
  });
}

export function createSimulatedQnn(options?: SimulatedQnnOptions): SimulatedQnn {
  const resolved = resolveOptions(options);
  const sim = new Simulator(resolved);
  try {
    const perf = new SimPerf(sim);
    const profiles = new SimProfiles(sim);
    const memory = new SimMemory(sim);
    const backends = new SimBackends(sim, perf);
    const queue = new SimExecuteQueue(sim);
    const contexts = new SimContexts(sim, profiles, memory, queue);
    const system = new SimSystem(sim);

    const handlers: Record<ServedCoreSlot, Handler> = {
      ...backends.handlers(),
      ...sim.logs.handlers(),
      ...contexts.handlers(),
      ...queue.handlers(),
      ...profiles.handlers(),
      ...memory.handlers(),
    };
    const coreTable = new Map<number, Address>();
    for (const slot of CORE_SLOTS.slice(0, coreSlotCount(resolved.coreApiVersion))) {
      const name = slot.name as CoreSlotName & ServedCoreSlot;
      if (!(name in CoreProtos) || resolved.nullSlots.has(name)) continue;
      coreTable.set(slot.index, sim.serve(name, CoreProtos[name], handlers[name]));
    }
    for (const name of Object.keys(CoreProtos)) sim.declare(name);
    const htp = writeCoreInterface(sim, QnnBackendId.HTP, resolved.coreApiVersion, coreTable);
    const extras = resolved.extraProviders.map((extra) =>
      writeCoreInterface(sim, extra.backendId, extra.coreApiVersion, new Map()),
    );

    const systemVersion = resolved.systemApiVersion;
    const systemHandlers = system.handlers();
    const systemBlock = sim.arena.alloc(SystemInterface.table + systemSlotCount(systemVersion.minor) * POINTER_SIZE);
    writePointer(systemBlock.view, SystemInterface.providerName, sim.arena.string(SYSTEM_PROVIDER_NAME));
    writeVersion(systemBlock.view, SystemInterface.systemApiVersion, systemVersion);
    for (const slot of SYSTEM_SLOTS) {
      sim.declare(slot.name);
      if (slot.name === 'systemContextGetMetaData' && systemVersion.minor < 1) continue;
      const fn = sim.serve(slot.name, SystemProtos[slot.name], systemHandlers[slot.name]);
      writePointer(systemBlock.view, SystemInterface.table + slot.index * POINTER_SIZE, fn);
    }

    const interfaceGetProviders = serveProviderList(sim, 'interfaceGetProviders', [...extras, htp]);
    const systemInterfaceGetProviders = serveProviderList(sim, 'systemInterfaceGetProviders', [systemBlock.address]);

    return {
      interfaceGetProviders,
      systemInterfaceGetProviders,
      rpcmem: memory.rpcmem,
      liveHandles: () =>
        sim.logs.table.size +
        sim.backends.size +
        sim.devices.size +
        sim.contexts.size +
        sim.graphs.size +
        sim.memHandles.size +
        profiles.live +
        system.live +
        backends.live +
        perf.live +
        memory.live,
      calls: (name: string): number => {
        const count = sim.calls(name);
        if (count === undefined) {
          throw new InvalidArgumentError(`calls: "${name}" is not a function the simulated provider serves`);
        }
        return count;
      },
      perfCalls: () => perf.calls(),
      contexts: () => contexts.info(),
      setFailExecute: (hook) => {
        if (hook !== null) checkFailExecute(hook);
        sim.failExecute = hook === null ? undefined : { graph: hook.graph, code: hook.code };
      },
      dispose: () => sim.dispose(),
    };
  } catch (error) {
    sim.dispose();
    throw error;
  }
}

/**
 * The HTP perf infrastructure `deviceGetInfrastructure` hands out
 * (docs/qnn-abi.md#htp-performance-infrastructure). Its functions decode what they receive by
 * offset and record it, so a binding's power voting can be checked.
 */
import {
  QNN_HTP_MAX_RPC_POLLING_TIME_US,
  QnnHtpInfrastructureType,
  QnnHtpMemoryConfigOption,
  QnnHtpPowerConfigOption,
} from '../qnn/enums.js';
import { Code, fail } from './failure.js';
import { DCVS_V3_FIELDS, HMX_V2_FIELDS, HtpInfrastructure, MemoryConfig, PowerConfig } from './layout.js';
import { addressOf, nativeView, NULL, readPointerList, storeUint32, writePointer, type Address, type PointerArg } from './native.js';
import { PerfProtos } from './protos.js';
import type { Handler, Simulator } from './simulator.js';

export type PowerConfigOptionName = keyof typeof QnnHtpPowerConfigOption;

/** One decoded `QnnHtpPerfInfrastructure_PowerConfig_t`: its option and its uint32 fields by name. */
export interface PowerConfigRecord {
  readonly option: PowerConfigOptionName;
  readonly values: Readonly<Record<string, number>>;
}

/** One call of a perf infrastructure function, with what it received. */
export type PerfCall =
  | { readonly fn: 'createPowerConfigId'; readonly deviceId: number; readonly coreId: number; readonly id: number }
  | { readonly fn: 'destroyPowerConfigId'; readonly id: number }
  | { readonly fn: 'setPowerConfig'; readonly id: number; readonly configs: readonly PowerConfigRecord[] }
  | {
      readonly fn: 'setMemoryConfig';
      readonly deviceId: number;
      readonly coreId: number;
      readonly configs: readonly { readonly option: 'GROW_SIZE'; readonly growSize: number }[];
    };

const MAX_CONFIGS = 64;
const OPTION_NAMES = new Map(
  Object.entries(QnnHtpPowerConfigOption).map(([name, value]) => [value, name as PowerConfigOptionName]),
);

function readFields(view: DataView, names: readonly string[]): Record<string, number> {
  const values: Record<string, number> = {};
  names.forEach((name, i) => (values[name] = view.getUint32(PowerConfig.value + i * 4, true)));
  return values;
}

function decodePowerConfig(address: Address, id: number, index: number): PowerConfigRecord {
  const fields = Math.max(DCVS_V3_FIELDS.length, HMX_V2_FIELDS.length);
  const view = nativeView(address, PowerConfig.value + fields * 4);
  const optionValue = view.getUint32(PowerConfig.option, true);
  const option = OPTION_NAMES.get(optionValue as never);
  if (option === undefined) {
    fail(Code.PERF_INFRASTRUCTURE_UNSUPPORTED_CONFIG, `configs[${index}].option ${optionValue} is not a power config option`);
  }
  if (option === 'DCVS_V3') {
    const values = readFields(view, DCVS_V3_FIELDS);
    if (values.contextId !== id) {
      fail(Code.PERF_INFRASTRUCTURE_INVALID_INPUT, `configs[${index}] (DCVS_V3).contextId ${values.contextId} is not the power config id ${id}`);
    }
    return { option, values };
  }
  if (option === 'HMX_V2') return { option, values: readFields(view, HMX_V2_FIELDS) };
  // Every other option holds a single uint32 (a latency, a polling time, a mode).
  const value = view.getUint32(PowerConfig.value, true);
  if (option === 'RPC_POLLING_TIME' && value > QNN_HTP_MAX_RPC_POLLING_TIME_US) {
    fail(Code.PERF_INFRASTRUCTURE_INVALID_INPUT, `configs[${index}] (RPC_POLLING_TIME) ${value} us exceeds ${QNN_HTP_MAX_RPC_POLLING_TIME_US}`);
  }
  return { option, values: { value } };
}

export class SimPerf {
  /** The `QnnHtpDevice_Infrastructure_t` handed out by deviceGetInfrastructure. */
  readonly infrastructure: Address;
  private readonly ids = new Set<number>();
  private nextId = 1;
  private readonly log: PerfCall[] = [];

  constructor(sim: Simulator) {
    const block = sim.arena.alloc(HtpInfrastructure.size);
    block.view.setUint32(HtpInfrastructure.infraType, QnnHtpInfrastructureType.PERF, true);
    const serve = (name: keyof typeof PerfProtos, handler: Handler): Address =>
      sim.serve(name, PerfProtos[name], handler);
    writePointer(block.view, HtpInfrastructure.createPowerConfigId, serve('createPowerConfigId', this.createPowerConfigId));
    writePointer(block.view, HtpInfrastructure.destroyPowerConfigId, serve('destroyPowerConfigId', this.destroyPowerConfigId));
    writePointer(block.view, HtpInfrastructure.setPowerConfig, serve('setPowerConfig', this.setPowerConfig));
    writePointer(block.view, HtpInfrastructure.setMemoryConfig, serve('setMemoryConfig', this.setMemoryConfig));
    this.infrastructure = block.address;
  }

  /** Power config ids created and not yet destroyed. */
  get live(): number {
    return this.ids.size;
  }

  calls(): readonly PerfCall[] {
    return [...this.log];
  }

  private readonly createPowerConfigId = (deviceId: number, coreId: number, outId: PointerArg): void => {
    const out = addressOf(outId);
    if (out === NULL) fail(Code.PERF_INFRASTRUCTURE_INVALID_HANDLE_PTR, 'powerConfigId out-pointer is NULL');
    checkDeviceCore(deviceId, coreId);
    const id = this.nextId++;
    storeUint32(out, id);
    this.ids.add(id);
    this.log.push({ fn: 'createPowerConfigId', deviceId, coreId, id });
  };

  private readonly destroyPowerConfigId = (id: number): void => {
    this.requireId(id);
    this.ids.delete(id);
    this.log.push({ fn: 'destroyPowerConfigId', id });
  };

  private readonly setPowerConfig = (id: number, configs: PointerArg): void => {
    this.requireId(id);
    const entries = readConfigList(addressOf(configs));
    const decoded = entries.map((entry, i) => decodePowerConfig(entry, id, i));
    this.log.push({ fn: 'setPowerConfig', id, configs: decoded });
  };

  private readonly setMemoryConfig = (deviceId: number, coreId: number, configs: PointerArg): void => {
    checkDeviceCore(deviceId, coreId);
    const decoded = readConfigList(addressOf(configs)).map((entry, i) => {
      const view = nativeView(entry, 8);
      const option = view.getUint32(MemoryConfig.option, true);
      if (option !== QnnHtpMemoryConfigOption.GROW_SIZE) {
        fail(Code.PERF_INFRASTRUCTURE_UNSUPPORTED_CONFIG, `configs[${i}].option ${option} is not a memory config option`);
      }
      return { option: 'GROW_SIZE' as const, growSize: view.getUint32(MemoryConfig.growSize, true) };
    });
    this.log.push({ fn: 'setMemoryConfig', deviceId, coreId, configs: decoded });
  };

  private requireId(id: number): void {
    if (!this.ids.has(id)) fail(Code.PERF_INFRASTRUCTURE_INVALID_INPUT, `power config id ${id} was not created or is destroyed`);
  }
}

/** The simulated HTP has one device (0) with one core (0), as every known caller uses. */
function checkDeviceCore(deviceId: number, coreId: number): void {
  if (deviceId !== 0 || coreId !== 0) {
    fail(Code.PERF_INFRASTRUCTURE_INVALID_INPUT, `deviceId ${deviceId} / coreId ${coreId}: the simulated HTP has only device 0, core 0`);
  }
}

function readConfigList(list: Address): Address[] {
  if (list === NULL) fail(Code.PERF_INFRASTRUCTURE_INVALID_INPUT, 'config list is NULL');
  const entries = readPointerList(list, MAX_CONFIGS);
  if (entries === undefined) {
    fail(Code.PERF_INFRASTRUCTURE_INVALID_INPUT, `config list has no NULL terminator within ${MAX_CONFIGS} entries`);
  }
  if (entries.length === 0) fail(Code.PERF_INFRASTRUCTURE_INVALID_INPUT, 'config list is empty');
  return entries;
}

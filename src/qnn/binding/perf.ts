/**
 * HTP performance voting through the device's perf infrastructure
 * (docs/qnn-abi.md#htp-performance-infrastructure). Genie leaves this to its extensions library
 * (`perf_profile`, `rpc_control_latency` in the extensions file); here the binding votes itself,
 * with the values ONNX Runtime and LiteRT use for the same profile names
 * (docs/qnn-abi.md#burst-votes-in-practice).
 */
import koffi from 'koffi';
import type { TypeObject } from 'koffi';
import { abi } from '../abi.js';
import {
  QNN_HTP_MAX_RPC_POLLING_TIME_US,
  QnnHtpInfrastructureType,
  QnnHtpPowerConfigOption,
  QnnHtpPowerMode,
  QnnHtpVoltageCorner,
} from '../enums.js';
import { NotSupportedError } from '../../errors.js';
import type { QnnCoreApi } from './function-table.js';
import { HTP_INFRASTRUCTURE } from './layout.js';
import { NativeArena, readPointer, readU32, type NativeFunction, type NativePointer } from './native.js';

/** Profiles with documented votes. burst and sustained_high_performance: ORT's burst vote; high_performance: ORT's. */
export const HTP_PERF_PROFILES = ['burst', 'sustained_high_performance', 'high_performance'] as const;
export type HtpPerfProfile = (typeof HTP_PERF_PROFILES)[number];

export const DEFAULT_RPC_CONTROL_LATENCY_US = 100;
export const DEFAULT_RPC_POLLING_TIME_US = QNN_HTP_MAX_RPC_POLLING_TIME_US;

export interface HtpPerfSettings {
  readonly profile: HtpPerfProfile;
  /** `rpc_control_latency` of the extensions file; default 100 us. */
  readonly rpcControlLatencyUs: number;
  /** RPC polling time (at most 9999 us); default 9999. */
  readonly rpcPollingTimeUs: number;
}

export function isHtpPerfProfile(value: unknown): value is HtpPerfProfile {
  return typeof value === 'string' && (HTP_PERF_PROFILES as readonly string[]).includes(value);
}

interface DcvsVote {
  readonly sleepLatencyUs: number;
  /** Bus and core voltage corner (min = target = max). */
  readonly corner: number;
}

// DCVS off and PERFORMANCE power mode for all three; they differ in sleep latency and corners.
const DCVS_VOTES: Readonly<Record<HtpPerfProfile, DcvsVote>> = {
  burst: { sleepLatencyUs: 40, corner: QnnHtpVoltageCorner.MAX },
  sustained_high_performance: { sleepLatencyUs: 40, corner: QnnHtpVoltageCorner.MAX },
  high_performance: { sleepLatencyUs: 100, corner: QnnHtpVoltageCorner.TURBO },
};

/** The `QnnHtpPerfInfrastructure_PowerConfig_t` values voted for a profile, in call order. */
export function powerConfigs(settings: HtpPerfSettings, powerConfigId: number): { dcvs: object; rpc: object[] } {
  const vote = DCVS_VOTES[settings.profile];
  return {
    dcvs: {
      option: QnnHtpPowerConfigOption.DCVS_V3,
      u: {
        dcvsV3Config: {
          contextId: powerConfigId,
          setDcvsEnable: 1,
          dcvsEnable: 0,
          powerMode: QnnHtpPowerMode.PERFORMANCE,
          setSleepLatency: 1,
          sleepLatency: vote.sleepLatencyUs,
          setSleepDisable: 0,
          sleepDisable: 0,
          setBusParams: 1,
          busVoltageCornerMin: vote.corner,
          busVoltageCornerTarget: vote.corner,
          busVoltageCornerMax: vote.corner,
          setCoreParams: 1,
          coreVoltageCornerMin: vote.corner,
          coreVoltageCornerTarget: vote.corner,
          coreVoltageCornerMax: vote.corner,
        },
      },
    },
    rpc: [
      { option: QnnHtpPowerConfigOption.RPC_CONTROL_LATENCY, u: { rpcControlLatencyConfig: settings.rpcControlLatencyUs } },
      { option: QnnHtpPowerConfigOption.RPC_POLLING_TIME, u: { rpcPollingTimeConfig: settings.rpcPollingTimeUs } },
    ],
  };
}

/** An active vote; `release` destroys its power config id (before `deviceFree`). */
export class HtpPerfVote {
  private released = false;

  private constructor(
    private readonly core: QnnCoreApi,
    private readonly destroy: NativeFunction,
    readonly powerConfigId: number,
  ) {}

  /** Creates a power config id on device 0 / core 0 and votes `settings`. */
  static vote(core: QnnCoreApi, settings: HtpPerfSettings): HtpPerfVote {
    const out: unknown[] = [null];
    core.check('deviceGetInfrastructure', core.fn('deviceGetInfrastructure')(out));
    const infra = out[0] as NativePointer | null;
    const infraType = infra === null ? null : readU32(infra, HTP_INFRASTRUCTURE.infraType);
    if (infra === null || infraType !== QnnHtpInfrastructureType.PERF) {
      throw new NotSupportedError(
        `perf profile "${settings.profile}": the backend has no HTP perf infrastructure (infraType ${infraType ?? 'NULL'})`,
      );
    }
    const fn = (offset: number, proto: TypeObject, name: string): NativeFunction => {
      const pointer = readPointer(infra, offset);
      if (pointer === null) throw new NotSupportedError(`perf profile "${settings.profile}": the HTP perf infrastructure has no ${name}`);
      return koffi.decode(pointer, proto) as NativeFunction;
    };
    const I = HTP_INFRASTRUCTURE;
    const create = fn(I.createPowerConfigId, abi.QnnHtpPerfInfrastructure_CreatePowerConfigIdFn_t, 'createPowerConfigId');
    const destroy = fn(I.destroyPowerConfigId, abi.QnnHtpPerfInfrastructure_DestroyPowerConfigIdFn_t, 'destroyPowerConfigId');
    const set = fn(I.setPowerConfig, abi.QnnHtpPerfInfrastructure_SetPowerConfigFn_t, 'setPowerConfig');
    const id = [0];
    core.check('createPowerConfigId', create(0, 0, id));
    const vote = new HtpPerfVote(core, destroy, id[0]);
    const arena = new NativeArena();
    try {
      const configs = powerConfigs(settings, id[0]);
      const encode = (config: object): NativePointer => {
        const ptr = arena.bytes(koffi.sizeof(abi.QnnHtpPerfInfrastructure_PowerConfig_t));
        koffi.encode(ptr, abi.QnnHtpPerfInfrastructure_PowerConfig_t, config);
        return ptr;
      };
      core.check('setPowerConfig(DCVS_V3)', set(id[0], arena.pointerList([encode(configs.dcvs)])));
      core.check('setPowerConfig(RPC)', set(id[0], arena.pointerList(configs.rpc.map(encode))));
    } catch (error) {
      vote.release();
      throw error;
    } finally {
      arena.free();
    }
    return vote;
  }

  /** Drops the vote. Idempotent. */
  release(): void {
    if (this.released) return;
    this.released = true;
    this.core.check('destroyPowerConfigId', this.destroy(this.powerConfigId));
  }
}

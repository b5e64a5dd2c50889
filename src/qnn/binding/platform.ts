/**
 * Device platform info (`deviceGetPlatformInfo`, docs/qnn-abi.md#device-platform-info): SoC model,
 * Hexagon arch, VTCM size.
 */
import { QnnBackendId } from '../enums.js';
import type { QnnCoreApi } from './function-table.js';
import { PLATFORM_INFO } from './layout.js';
import { readPointer, readU32, readU64, type NativePointer } from './native.js';

export interface QnnHtpDeviceInfo {
  /** `Qnn_SocModel_t` value, e.g. 57 = SM8650. */
  readonly socModel: number;
  /** Hexagon arch number, e.g. 75 for v75. */
  readonly arch: number;
  readonly vtcmSizeMb: number;
}

export interface QnnHardwareDevice {
  readonly deviceId: number;
  readonly deviceType: number;
  readonly numCores: number;
  /** Present on HTP backends (the device info extension). */
  readonly htp: QnnHtpDeviceInfo | null;
}

const PLATFORM_INFO_VERSION_1 = 1;

/** `Qnn_SocModel_t` values with their chip names (docs/qnn-abi.md#priority-soc-models-and-htp-arch). */
const SOC_NAME = new Map<number, string>([
  [30, 'SM8350'], [36, 'SM8450'], [42, 'SM8475'], [43, 'SM8550'], [57, 'SM8650'], [60, 'SC8380XP'],
  [68, 'SM8635'], [69, 'SM8750'], [70, 'SM7675'], [77, 'QCS9100'], [82, 'QCS8300'], [85, 'SM8735'],
  [86, 'SM7750'], [87, 'SM8850'],
]);

function readDevices(info: NativePointer, isHtp: boolean): QnnHardwareDevice[] {
  const count = readU32(info, PLATFORM_INFO.numHwDevices);
  const array = readPointer(info, PLATFORM_INFO.hwDevices);
  if (array === null) return [];
  const devices: QnnHardwareDevice[] = [];
  for (let i = 0; i < count; i++) {
    const at = array + BigInt(i * PLATFORM_INFO.deviceStride);
    const extension = isHtp ? readPointer(at, PLATFORM_INFO.deviceInfoExtension) : null;
    devices.push({
      deviceId: readU32(at, PLATFORM_INFO.deviceId),
      deviceType: readU32(at, PLATFORM_INFO.deviceType),
      numCores: readU32(at, PLATFORM_INFO.numCores),
      htp:
        extension === null
          ? null
          : {
              socModel: readU32(extension, PLATFORM_INFO.htpSocModel),
              arch: readU32(extension, PLATFORM_INFO.htpArch),
              vtcmSizeMb: readU64(extension, PLATFORM_INFO.htpVtcmSize),
            },
    });
  }
  return devices;
}

/**
 * The backend's hardware devices, or null when the backend does not report platform info. The
 * returned memory belongs to the backend and is freed here after copying.
 */
export function readPlatformInfo(core: QnnCoreApi, log: NativePointer | null): QnnHardwareDevice[] | null {
  if (!core.has('deviceGetPlatformInfo') || !core.has('deviceFreePlatformInfo')) return null;
  const out: unknown[] = [null];
  core.check('deviceGetPlatformInfo', core.fn('deviceGetPlatformInfo')(log, out));
  const info = out[0] as NativePointer | null;
  if (info === null) return null;
  try {
    if (readU32(info, PLATFORM_INFO.version) !== PLATFORM_INFO_VERSION_1) return null;
    return readDevices(info, core.provider.backendId === QnnBackendId.HTP);
  } finally {
    core.check('deviceFreePlatformInfo', core.fn('deviceFreePlatformInfo')(log, info));
  }
}

/** One line per device for the info log, e.g. "device 0: SoC SM8650 (57), Hexagon v75, VTCM 8 MB, 1 core". */
export function describeDevices(devices: readonly QnnHardwareDevice[]): string[] {
  return devices.map((d) => {
    const cores = `${d.numCores} core${d.numCores === 1 ? '' : 's'}`;
    if (d.htp === null) return `device ${d.deviceId}: type ${d.deviceType}, ${cores}`;
    const soc = SOC_NAME.get(d.htp.socModel);
    return (
      `device ${d.deviceId}: SoC ${soc === undefined ? `model ${d.htp.socModel}` : `${soc} (${d.htp.socModel})`}, ` +
      `Hexagon v${d.htp.arch}, VTCM ${d.htp.vtcmSizeMb} MB, ${cores}`
    );
  });
}

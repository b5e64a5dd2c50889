/** `QnnDevice_PlatformInfo_t` for the simulated HTP: one on-chip device with one core. */
import { CoreInfo, HardwareDeviceInfo, HtpDeviceInfoExtension, PlatformInfo } from './layout.js';
import { writePointer, type Address, type NativeArena } from './native.js';
import type { ResolvedOptions } from './options.js';

const PLATFORM_INFO_VERSION_1 = 1;
const HARDWARE_DEVICE_INFO_VERSION_1 = 1;
const CORE_INFO_VERSION_1 = 1;
const HTP_DEVICE_TYPE_ON_CHIP = 0;

/** Writes the platform info into `arena` and returns its address. */
export function writePlatformInfo(arena: NativeArena, platform: ResolvedOptions['platform']): Address {
  const extension = arena.alloc(HtpDeviceInfoExtension.size);
  extension.view.setUint32(HtpDeviceInfoExtension.devType, HTP_DEVICE_TYPE_ON_CHIP, true);
  extension.view.setBigUint64(HtpDeviceInfoExtension.vtcmSize, BigInt(platform.vtcmSizeMb), true);
  extension.view.setUint32(HtpDeviceInfoExtension.socModel, platform.socModel, true);
  extension.view.setUint8(HtpDeviceInfoExtension.signedPdSupport, 1);
  extension.view.setUint8(HtpDeviceInfoExtension.dlbcSupport, 0);
  extension.view.setUint32(HtpDeviceInfoExtension.arch, platform.arch, true);

  const core = arena.alloc(CoreInfo.size);
  core.view.setUint32(CoreInfo.version, CORE_INFO_VERSION_1, true);

  const device = arena.alloc(HardwareDeviceInfo.size);
  device.view.setUint32(HardwareDeviceInfo.version, HARDWARE_DEVICE_INFO_VERSION_1, true);
  device.view.setUint32(HardwareDeviceInfo.numCores, 1, true);
  writePointer(device.view, HardwareDeviceInfo.cores, core.address);
  writePointer(device.view, HardwareDeviceInfo.deviceInfoExtension, extension.address);

  const info = arena.alloc(PlatformInfo.size);
  info.view.setUint32(PlatformInfo.version, PLATFORM_INFO_VERSION_1, true);
  info.view.setUint32(PlatformInfo.numHwDevices, 1, true);
  writePointer(info.view, PlatformInfo.hwDevices, device.address);
  return info.address;
}

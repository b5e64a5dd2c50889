/**
 * Decoders of the NULL-terminated config lists (`const T **`) of backendCreate, deviceCreate and
 * contextCreateFromBinary (docs/qnn-abi.md#config-structs). Unknown options and inconsistent values
 * fail with the caller's INVALID_CONFIG code before anything is created.
 */
import {
  QnnBackendConfigOption,
  QnnContextConfigOption,
  QnnDeviceConfigOption,
  QnnHtpContextConfigOption,
  QnnHtpDeviceConfigOption,
  QnnPriority,
} from '../qnn/enums.js';
import { fail } from './failure.js';
import { Config, HtpContextCustomConfig, HtpDeviceCustomConfig } from './layout.js';
import { hex, nativeView, NULL, readCString, readPointer, readPointerList, type Address } from './native.js';
import type { ResolvedOptions } from './options.js';
import type { ContextConfig } from './records.js';

const MAX_CONFIGS = 64;
const MAX_GRAPH_NAMES = 4096;
const CONFIG_SIZE = 16;

/** The entries of config list `list`, each as a 16-byte view; fails with `code` if unterminated. */
function configEntries(list: Address, code: number, what: string): DataView[] {
  const entries = readPointerList(list, MAX_CONFIGS);
  if (entries === undefined) fail(code, `${what} has no NULL terminator within ${MAX_CONFIGS} entries`);
  return entries.map((entry) => nativeView(entry, CONFIG_SIZE));
}

const optionIn = (values: Record<string, number>, option: number): boolean => Object.values(values).includes(option);

/** Checks a `QnnBackend_Config_t` list: CUSTOM, ERROR_REPORTING and PLATFORM are accepted. */
export function checkBackendConfigs(list: Address, code: number): void {
  configEntries(list, code, 'config').forEach((view, i) => {
    const option = view.getUint32(Config.option, true);
    if (!optionIn(QnnBackendConfigOption, option)) fail(code, `config[${i}].option ${option} is not a QnnBackend_ConfigOption_t`);
  });
}

/**
 * Checks a `QnnDevice_Config_t` list. HTP custom configs naming a SoC model or arch must name the
 * simulated platform's (a device configured for another chip cannot be created).
 */
export function checkDeviceConfigs(list: Address, code: number, platform: ResolvedOptions['platform']): void {
  configEntries(list, code, 'config').forEach((view, i) => {
    const option = view.getUint32(Config.option, true);
    if (option === QnnDeviceConfigOption.PLATFORM_INFO) return;
    if (option !== QnnDeviceConfigOption.CUSTOM) fail(code, `config[${i}].option ${option} is not a QnnDevice_ConfigOption_t`);
    const custom = readPointer(view, Config.value);
    if (custom === NULL) fail(code, `config[${i}].customConfig is NULL`);
    const htp = nativeView(custom, 12);
    const htpOption = htp.getUint32(HtpDeviceCustomConfig.option, true);
    if (htpOption === QnnHtpDeviceConfigOption.SOC) {
      const socModel = htp.getUint32(HtpDeviceCustomConfig.socModel, true);
      if (socModel !== platform.socModel) {
        fail(code, `config[${i}] (HTP SOC).socModel ${socModel} is not this device's SoC model ${platform.socModel}`);
      }
    } else if (htpOption === QnnHtpDeviceConfigOption.ARCH) {
      const arch = htp.getUint32(HtpDeviceCustomConfig.arch, true);
      if (arch !== platform.arch) fail(code, `config[${i}] (HTP ARCH).arch ${arch} is not this device's arch V${platform.arch}`);
    } else if (!optionIn(QnnHtpDeviceConfigOption, htpOption)) {
      fail(code, `config[${i}].customConfig.option ${htpOption} is not a QnnHtpDevice_ConfigOption_t`);
    }
  });
}

function readNameList(list: Address, code: number, what: string): string[] {
  if (list === NULL) fail(code, `${what} is NULL`);
  const entries = readPointerList(list, MAX_GRAPH_NAMES);
  if (entries === undefined) fail(code, `${what} has no NULL terminator within ${MAX_GRAPH_NAMES} names`);
  return entries.map(readCString);
}

/**
 * Decodes a `QnnContext_Config_t` list. `isContext` tells whether a handle is a live context (a
 * spill-fill group's first handle must be one); `code` is CONTEXT_INVALID_CONFIG.
 */
export function decodeContextConfigs(list: Address, code: number, isContext: (handle: Address) => boolean): ContextConfig {
  let priority: number | undefined;
  let memoryLimitHint: bigint | undefined;
  let persistentBinary = false;
  let enabledGraphs: string[] | undefined;
  let spillFillGroup: ContextConfig['spillFillGroup'];
  const htpOptions: number[] = [];
  configEntries(list, code, 'config').forEach((view, i) => {
    const option = view.getUint32(Config.option, true);
    switch (option) {
      case QnnContextConfigOption.PRIORITY:
        priority = view.getUint32(Config.value, true);
        if (!optionIn(QnnPriority, priority)) fail(code, `config[${i}] (PRIORITY) ${priority} is not a Qnn_Priority_t`);
        break;
      case QnnContextConfigOption.MEMORY_LIMIT_HINT:
        memoryLimitHint = view.getBigUint64(Config.value, true);
        break;
      case QnnContextConfigOption.PERSISTENT_BINARY:
        persistentBinary = view.getUint8(Config.value) !== 0;
        break;
      case QnnContextConfigOption.ENABLE_GRAPHS:
        enabledGraphs = readNameList(readPointer(view, Config.value), code, `config[${i}] (ENABLE_GRAPHS) name list`);
        break;
      case QnnContextConfigOption.CUSTOM: {
        const custom = readPointer(view, Config.value);
        if (custom === NULL) fail(code, `config[${i}].customConfig is NULL`);
        const htp = nativeView(custom, 24);
        const htpOption = htp.getUint32(HtpContextCustomConfig.option, true);
        if (htpOption === QnnHtpContextConfigOption.REGISTER_MULTI_CONTEXTS) {
          const firstGroupHandle = readPointer(htp, HtpContextCustomConfig.firstGroupHandle);
          const maxSpillFillBuffer = htp.getBigUint64(HtpContextCustomConfig.maxSpillFillBuffer, true);
          if (firstGroupHandle !== NULL && !isContext(firstGroupHandle)) {
            fail(code, `config[${i}] (HTP REGISTER_MULTI_CONTEXTS).firstGroupHandle ${hex(firstGroupHandle)} is not a live context`);
          }
          if (firstGroupHandle === NULL && maxSpillFillBuffer === 0n) {
            fail(code, `config[${i}] (HTP REGISTER_MULTI_CONTEXTS) starts a group with maxSpillFillBuffer 0`);
          }
          spillFillGroup = { firstGroupHandle, maxSpillFillBuffer };
        } else if (optionIn(QnnHtpContextConfigOption, htpOption)) {
          htpOptions.push(htpOption);
        } else {
          fail(code, `config[${i}].customConfig.option ${htpOption} is not a QnnHtpContext_ConfigOption_t`);
        }
        break;
      }
      default:
        // The remaining documented options carry nothing the simulator acts on.
        if (!optionIn(QnnContextConfigOption, option)) fail(code, `config[${i}].option ${option} is not a QnnContext_ConfigOption_t`);
    }
  });
  return { priority, memoryLimitHint, persistentBinary, enabledGraphs, spillFillGroup, htpOptions };
}

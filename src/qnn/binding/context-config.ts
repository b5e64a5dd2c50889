/**
 * The `QnnContext_Config_t` list for `contextCreateFromBinary`, from the QnnHtp values of a Genie
 * config (docs/genie-behaviour.md#qnnhtp-block): spill-fill group registration, file-read memory
 * budget, and the memory limit hint + persistent binary that graph switching adds.
 */
import koffi from 'koffi';
import { abi } from '../abi.js';
import { QnnContextConfigOption, QnnHtpContextConfigOption } from '../enums.js';
import type { NativeArena, NativePointer } from './native.js';

/** The QnnHtp config values applied at load (names as in the derived Genie config). */
export interface HtpContextSettings {
  /** `spill-fill-bufsize`: > 0 registers all contexts as one spill-fill group of this size. */
  readonly spillFillBufsize: number;
  /** `mmap-budget` in MB: > 0 sets the HTP file-read memory budget. */
  readonly mmapBudget: number;
  /** `use-mmap`: map the context binaries (libc mmap through Koffi) instead of reading them (see NativeContextBinary). */
  readonly useMmap: boolean;
  /** `enable-graph-switching`: memory limit hint 1024 and a persistent binary. */
  readonly enableGraphSwitching: boolean;
}

export const DEFAULT_HTP_CONTEXT_SETTINGS: HtpContextSettings = Object.freeze({
  spillFillBufsize: 0,
  mmapBudget: 0,
  useMmap: false,
  enableGraphSwitching: false,
});

/** Genie's MEMORY_LIMIT_HINT with graph switching. */
const GRAPH_SWITCHING_MEMORY_LIMIT_HINT = 1024;

/**
 * Encodes the NULL-terminated config list for context `index`; `firstContext` is the handle of
 * context 0 (the spill-fill group head), null while creating it. Returns NULL for an empty list.
 */
export function encodeContextConfigs(
  arena: NativeArena,
  settings: HtpContextSettings,
  index: number,
  firstContext: NativePointer | null,
): NativePointer | null {
  const configs: NativePointer[] = [];
  const config = (value: object): void => {
    const ptr = arena.bytes(koffi.sizeof(abi.QnnContext_Config_t));
    koffi.encode(ptr, abi.QnnContext_Config_t, value);
    configs.push(ptr);
  };
  const custom = (value: object): void => {
    const ptr = arena.bytes(koffi.sizeof(abi.QnnHtpContext_CustomConfig_t));
    koffi.encode(ptr, abi.QnnHtpContext_CustomConfig_t, value);
    config({ option: QnnContextConfigOption.CUSTOM, u: { customConfig: ptr } });
  };
  if (settings.spillFillBufsize > 0) {
    custom({
      option: QnnHtpContextConfigOption.REGISTER_MULTI_CONTEXTS,
      u: { groupRegistration: { firstGroupHandle: index === 0 ? null : firstContext, maxSpillFillBuffer: settings.spillFillBufsize } },
    });
  }
  if (settings.mmapBudget > 0) {
    custom({ option: QnnHtpContextConfigOption.FILE_READ_MEMORY_BUDGET, u: { fileReadMemoryBudgetInMb: settings.mmapBudget } });
  }
  if (settings.enableGraphSwitching) {
    config({ option: QnnContextConfigOption.MEMORY_LIMIT_HINT, u: { memoryLimitHint: GRAPH_SWITCHING_MEMORY_LIMIT_HINT } });
    config({ option: QnnContextConfigOption.PERSISTENT_BINARY, u: { isPersistentBinary: 1 } });
  }
  return configs.length === 0 ? null : arena.pointerList(configs);
}

import { InvalidArgumentError, NotSupportedError } from '../errors.js';

/** A QNN API version triple (`Qnn_Version_t`). */
export interface QnnApiVersion {
  readonly major: number;
  readonly minor: number;
  readonly patch: number;
}

/** `2.14.0`. */
export const formatApiVersion = (v: QnnApiVersion): string => `${v.major}.${v.minor}.${v.patch}`;

/**
 * Oldest core API this binding accepts: 2.14 (SDK 2.20). It is the first with `Qnn_TensorV2_t`,
 * so every tensor array a library hands over (execute IO, graph info) has the 144-byte stride
 * declared in abi.ts (older libraries use 120). It is also past API 2.9, the last version that
 * inserted slots mid-table, so the slot indices below hold for every accepted library.
 */
export const MIN_CORE_API_VERSION: QnnApiVersion = Object.freeze({ major: 2, minor: 14, patch: 0 });

/** Oldest QnnSystem API accepted: 1.1, the first with `systemContextGetMetaData` (SDK 2.13). */
export const MIN_SYSTEM_API_VERSION: QnnApiVersion = Object.freeze({ major: 1, minor: 1, patch: 0 });

/**
 * The core function table in index order (docs/qnn-abi.md#core-function-table, 71 slots in core API
 * 2.32) with the first core API minor in which the slot sits at that index. API 2.8 and 2.9
 * inserted slots 29, 33, 2 and 16 mid-table, so every slot from index 2 on holds its index only
 * since 2.9. Slots 69-70 appeared in 2.31 or 2.32; 2.32 is the version known to have them.
 */
const CORE_SLOT_TABLE = [
  ['propertyHasCapability', 7],
  ['backendCreate', 7],
  ['backendSetConfig', 9],
  ['backendGetApiVersion', 9],
  ['backendGetBuildId', 9],
  ['backendRegisterOpPackage', 9],
  ['backendGetSupportedOperations', 9],
  ['backendValidateOpConfig', 9],
  ['backendFree', 9],
  ['contextCreate', 9],
  ['contextSetConfig', 9],
  ['contextGetBinarySize', 9],
  ['contextGetBinary', 9],
  ['contextCreateFromBinary', 9],
  ['contextFree', 9],
  ['graphCreate', 9],
  ['graphCreateSubgraph', 9],
  ['graphSetConfig', 9],
  ['graphAddNode', 9],
  ['graphFinalize', 9],
  ['graphRetrieve', 9],
  ['graphExecute', 9],
  ['graphExecuteAsync', 9],
  ['tensorCreateContextTensor', 9],
  ['tensorCreateGraphTensor', 9],
  ['logCreate', 9],
  ['logSetLogLevel', 9],
  ['logFree', 9],
  ['profileCreate', 9],
  ['profileSetConfig', 9],
  ['profileGetEvents', 9],
  ['profileGetSubEvents', 9],
  ['profileGetEventData', 9],
  ['profileGetExtendedEventData', 9],
  ['profileFree', 9],
  ['memRegister', 9],
  ['memDeRegister', 9],
  ['deviceGetPlatformInfo', 9],
  ['deviceFreePlatformInfo', 9],
  ['deviceGetInfrastructure', 9],
  ['deviceCreate', 9],
  ['deviceSetConfig', 9],
  ['deviceGetInfo', 9],
  ['deviceFree', 9],
  ['signalCreate', 9],
  ['signalSetConfig', 9],
  ['signalTrigger', 9],
  ['signalFree', 9],
  ['errorGetMessage', 11],
  ['errorGetVerboseMessage', 11],
  ['errorFreeVerboseMessage', 11],
  ['graphPrepareExecutionEnvironment', 12],
  ['graphReleaseExecutionEnvironment', 12],
  ['graphGetProperty', 12],
  ['contextValidateBinary', 13],
  ['contextCreateFromBinaryWithSignal', 15],
  ['contextCreateFromBinaryListAsync', 17],
  ['tensorUpdateGraphTensors', 17],
  ['tensorUpdateContextTensors', 17],
  ['contextGetBinarySectionSize', 18],
  ['contextGetBinarySection', 18],
  ['contextApplyBinarySection', 18],
  ['backendGetProperty', 22],
  ['contextGetProperty', 22],
  ['contextGetIncrementalBinary', 25],
  ['contextReleaseIncrementalBinary', 25],
  ['contextFinalize', 26],
  ['globalConfigSet', 27],
  ['contextCreateFromBinaryWithCallback', 28],
  ['contextGetBinarySectionUpdate', 32],
  ['contextFreeBinarySectionUpdate', 32],
] as const;

/**
 * The QnnSystem table slots this binding binds (docs/qnn-abi.md#system-function-table); later slots
 * changed ABI in SDK 2.44.
 */
const SYSTEM_SLOT_TABLE = [
  ['systemContextCreate', 0],
  ['systemContextGetBinaryInfo', 0],
  ['systemContextGetMetaData', 1],
  ['systemContextFree', 1],
] as const;

export type CoreSlotName = (typeof CORE_SLOT_TABLE)[number][0];
export type SystemSlotName = (typeof SYSTEM_SLOT_TABLE)[number][0];

/** A function-table slot: its index and the first API minor in which it sits at that index. */
export interface InterfaceSlot<Name extends string> {
  readonly name: Name;
  readonly index: number;
  readonly sinceMinor: number;
}

function toSlots<Name extends string>(table: readonly (readonly [Name, number])[]): readonly InterfaceSlot<Name>[] {
  return Object.freeze(table.map(([name, sinceMinor], index) => Object.freeze({ name, index, sinceMinor })));
}

function toIndex<Name extends string>(slots: readonly InterfaceSlot<Name>[]): Readonly<Record<Name, number>> {
  return Object.freeze(Object.fromEntries(slots.map((slot) => [slot.name, slot.index])) as Record<Name, number>);
}

/** Core table slots in index order. */
export const CORE_SLOTS = toSlots<CoreSlotName>(CORE_SLOT_TABLE);
/** Core slot name -> index into the table at `QnnInterface_t` + 40. */
export const CORE_SLOT_INDEX = toIndex(CORE_SLOTS);

/** System table slots 0-3 in index order. */
export const SYSTEM_SLOTS = toSlots<SystemSlotName>(SYSTEM_SLOT_TABLE);
/** System slot name -> index into the table at `QnnSystemInterface_t` + 32. */
export const SYSTEM_SLOT_INDEX = toIndex(SYSTEM_SLOTS);

/**
 * How many leading core-table slots a provider with this core API minor (major 2) fills in, i.e.
 * how many may be read; entries can still be NULL when the backend lacks the function. Minors newer
 * than the table count as having all known slots.
 */
/**
 * Throws unless `coreApiMinor` is a core API 2.x minor this binding supports (>= 14): an
 * `InvalidArgumentError` for a non-integer, a `NotSupportedError` for an older API.
 */
export function requireSupportedCoreApiMinor(coreApiMinor: number): void {
  if (!Number.isInteger(coreApiMinor) || coreApiMinor < 0) {
    throw new InvalidArgumentError(`coreApiMinor must be a non-negative integer, got ${String(coreApiMinor)}`);
  }
  if (coreApiMinor < MIN_CORE_API_VERSION.minor) {
    throw new NotSupportedError(
      `coreApiMinor ${coreApiMinor}: QNN core API 2.${coreApiMinor} is older than the minimum supported ` +
        `${MIN_CORE_API_VERSION.major}.${MIN_CORE_API_VERSION.minor} (QAIRT SDK 2.20)`,
    );
  }
}

/**
 * How many leading core-table slots a provider with this core API minor (major 2) fills in, i.e.
 * how many may be read; entries can still be NULL when the backend lacks the function. Minors newer
 * than the table count as having all known slots.
 */
export function validSlotCount(coreApiMinor: number): number {
  requireSupportedCoreApiMinor(coreApiMinor);
  let count = 0;
  while (count < CORE_SLOTS.length && CORE_SLOTS[count].sinceMinor <= coreApiMinor) count++;
  return count;
}

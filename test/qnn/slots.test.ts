import { describe, it, expect } from 'vitest';
import {
  CORE_SLOTS,
  CORE_SLOT_INDEX,
  CORE_SLOT_PROTOS,
  INTERFACE_TABLE_OFFSET,
  MIN_CORE_API_VERSION,
  SLOT_SIZE,
  SYSTEM_INTERFACE_TABLE_OFFSET,
  SYSTEM_SLOTS,
  SYSTEM_SLOT_INDEX,
  SYSTEM_SLOT_PROTOS,
  requireSupportedCoreApiMinor,
  validSlotCount,
} from '../../src/qnn/index.js';
import { InvalidArgumentError, NotSupportedError } from '../../src/errors.js';

describe('core function table (docs/qnn-abi.md#core-function-table)', () => {
  it('has 71 distinct slots in index order', () => {
    expect(CORE_SLOTS).toHaveLength(71);
    expect(new Set(CORE_SLOTS.map((s) => s.name)).size).toBe(71);
    CORE_SLOTS.forEach((slot, i) => expect(slot.index).toBe(i));
  });

  it('puts the slots the runtime calls at the documented index and QnnInterface_t offset', () => {
    // [name, idx, "QnnInterface_t off"] from the docs/qnn-abi.md#core-function-table table.
    const documented: [keyof typeof CORE_SLOT_INDEX, number, number][] = [
      ['propertyHasCapability', 0, 40],
      ['backendCreate', 1, 48],
      ['backendSetConfig', 2, 56],
      ['backendGetBuildId', 4, 72],
      ['backendFree', 8, 104],
      ['contextSetConfig', 10, 120],
      ['contextCreateFromBinary', 13, 144],
      ['contextFree', 14, 152],
      ['graphCreateSubgraph', 16, 168],
      ['graphRetrieve', 20, 200],
      ['graphExecute', 21, 208],
      ['logCreate', 25, 240],
      ['logFree', 27, 256],
      ['profileCreate', 28, 264],
      ['profileSetConfig', 29, 272],
      ['profileGetEvents', 30, 280],
      ['profileGetSubEvents', 31, 288],
      ['profileGetEventData', 32, 296],
      ['profileFree', 34, 312],
      ['memRegister', 35, 320],
      ['memDeRegister', 36, 328],
      ['deviceGetPlatformInfo', 37, 336],
      ['deviceFreePlatformInfo', 38, 344],
      ['deviceGetInfrastructure', 39, 352],
      ['deviceCreate', 40, 360],
      ['deviceFree', 43, 384],
      ['errorGetMessage', 48, 424],
      ['contextValidateBinary', 54, 472],
      ['contextApplyBinarySection', 61, 528],
      ['contextGetProperty', 63, 544],
      ['globalConfigSet', 67, 576],
      ['contextCreateFromBinaryWithCallback', 68, 584],
      ['contextFreeBinarySectionUpdate', 70, 600],
    ];
    for (const [name, index, providerOffset] of documented) {
      expect(CORE_SLOT_INDEX[name], name).toBe(index);
      expect(INTERFACE_TABLE_OFFSET + SLOT_SIZE * CORE_SLOT_INDEX[name], name).toBe(providerOffset);
    }
  });

  it('is append-only from the minimum supported API on (since-minors never decrease)', () => {
    for (let i = 1; i < CORE_SLOTS.length; i++) {
      expect(CORE_SLOTS[i].sinceMinor).toBeGreaterThanOrEqual(CORE_SLOTS[i - 1].sinceMinor);
    }
  });

  it('has a prototype for every slot the runtime calls, each a real slot', () => {
    for (const name of Object.keys(CORE_SLOT_PROTOS)) expect(CORE_SLOT_INDEX).toHaveProperty(name);
    for (const name of ['backendCreate', 'backendFree', 'deviceCreate', 'deviceFree', 'deviceGetPlatformInfo',
      'deviceFreePlatformInfo', 'deviceGetInfrastructure', 'contextCreateFromBinary', 'contextFree',
      'contextSetConfig', 'graphRetrieve', 'graphExecute', 'memRegister', 'memDeRegister', 'logCreate', 'logFree',
      'profileCreate', 'profileGetEvents', 'profileGetEventData', 'profileFree', 'errorGetMessage',
      'propertyHasCapability']) {
      expect(CORE_SLOT_PROTOS, name).toHaveProperty(name);
    }
  });
});

describe('validSlotCount', () => {
  it('matches the table lengths of the documented header sets', () => {
    // docs/qnn-abi.md#core-function-table: H225 (API 2.18) has 62 slots, H230 (API 2.23) 64, H240
    // (API 2.30) 69, H243 (API 2.32) 71.
    expect(validSlotCount(18)).toBe(62);
    expect(validSlotCount(23)).toBe(64);
    expect(validSlotCount(30)).toBe(69);
    expect(validSlotCount(32)).toBe(71);
  });

  it('counts the slots that exist at the minimum API and treats newer minors as having all', () => {
    // Up to contextValidateBinary (idx 54, API 2.13); contextCreateFromBinaryWithSignal is 2.15.
    expect(validSlotCount(MIN_CORE_API_VERSION.minor)).toBe(55);
    expect(validSlotCount(15)).toBe(56);
    expect(validSlotCount(38)).toBe(71);
  });

  it('covers every slot the runtime calls from the minimum API on', () => {
    const count = validSlotCount(MIN_CORE_API_VERSION.minor);
    for (const name of Object.keys(CORE_SLOT_PROTOS) as (keyof typeof CORE_SLOT_INDEX)[]) {
      expect(CORE_SLOT_INDEX[name], name).toBeLessThan(count);
    }
  });

  it('rejects APIs older than 2.14 with NotSupportedError and stays usable', () => {
    expect(() => validSlotCount(13)).toThrow(NotSupportedError);
    expect(() => validSlotCount(13)).toThrow(
      /coreApiMinor 13: QNN core API 2\.13 is older than the minimum supported 2\.14 \(QAIRT SDK 2\.20\)/,
    );
    expect(validSlotCount(14)).toBe(55);
  });

  it('rejects non-integer or negative minors with InvalidArgumentError and stays usable', () => {
    for (const bad of [-1, 14.5, Number.NaN]) {
      expect(() => validSlotCount(bad)).toThrow(InvalidArgumentError);
      expect(() => validSlotCount(bad)).toThrow(new RegExp(`coreApiMinor must be a non-negative integer, got ${bad}`));
    }
    expect(() => requireSupportedCoreApiMinor(Number.POSITIVE_INFINITY)).toThrow(/got Infinity/);
    expect(() => requireSupportedCoreApiMinor(20)).not.toThrow();
    expect(validSlotCount(23)).toBe(64);
  });
});

describe('system function table (docs/qnn-abi.md#system-function-table)', () => {
  it('binds slots 0-3 at the documented indices, table at QnnSystemInterface_t + 32', () => {
    expect(SYSTEM_SLOTS.map((s) => s.name)).toEqual([
      'systemContextCreate', 'systemContextGetBinaryInfo', 'systemContextGetMetaData', 'systemContextFree',
    ]);
    expect(SYSTEM_SLOT_INDEX.systemContextGetMetaData).toBe(2);
    expect(SYSTEM_INTERFACE_TABLE_OFFSET + SLOT_SIZE * SYSTEM_SLOT_INDEX.systemContextFree).toBe(56);
    expect(Object.keys(SYSTEM_SLOT_PROTOS).sort()).toEqual(SYSTEM_SLOTS.map((s) => s.name).sort());
  });
});

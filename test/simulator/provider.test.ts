import koffi from 'koffi';
import { describe, expect, it } from 'vitest';
import { InvalidArgumentError } from '../../src/errors.js';
import { createSimulatedQnn } from '../../src/simulator/index.js';
import { codeOf, CORE, NULL, Proto, RawQnn, readPtr, readStr, readU32, SYSTEM } from './raw-client.js';

/** Core slots the simulator serves, by index (docs/qnn-abi.md#core-function-table). */
const SERVED = [0, 1, 3, 4, 8, 13, 14, 20, 21, 22, 25, 26, 27, 28, 30, 31, 32, 34, 35, 36, 37, 38, 39, 40, 43, 48];

describe('provider structs', () => {
  it('lists one HTP provider: backendId 6, "HTP_QTI_AISW", core API 2.32.0, HTP API 5.43.0', () => {
    const sim = createSimulatedQnn();
    const qnn = new RawQnn(sim);
    expect(qnn.providers).toEqual([
      { address: qnn.htp.address, backendId: 6, name: 'HTP_QTI_AISW', core: [2, 32, 0], backendApi: [5, 43, 0] },
    ]);
    qnn.dispose();
    sim.dispose();
  });

  it('system provider: "SYSTEM_QTI_AISW", system API 1.7.0, slots 0-3 served and 4-15 NULL', () => {
    const sim = createSimulatedQnn();
    const qnn = new RawQnn(sim);
    expect(readStr(readPtr(qnn.system, 8))).toBe('SYSTEM_QTI_AISW');
    expect([16, 20, 24].map((o) => readU32(qnn.system, o))).toEqual([1, 7, 0]);
    for (const i of [0, 1, 2, 3]) expect(qnn.systemSlot(i)).not.toBe(NULL);
    for (let i = 4; i < 16; i++) expect(qnn.systemSlot(i)).toBe(NULL);
    qnn.dispose();
    sim.dispose();
  });

  it('system API 1.0 has no getMetaData: slot 2 is NULL, the others are served', () => {
    const sim = createSimulatedQnn({ systemApiVersion: { major: 1, minor: 0, patch: 0 } });
    const qnn = new RawQnn(sim);
    expect([0, 1, 2, 3].map((i) => qnn.systemSlot(i) !== NULL)).toEqual([true, true, false, true]);
    qnn.dispose();
    sim.dispose();
  });

  it('core table: served slots at their documented indices, every other valid slot NULL', () => {
    const sim = createSimulatedQnn();
    const qnn = new RawQnn(sim);
    for (let i = 0; i < 71; i++) expect(qnn.coreSlot(i) !== NULL, `slot ${i}`).toBe(SERVED.includes(i));
    qnn.dispose();
    sim.dispose();
  });

  it('nullSlots are served as NULL', () => {
    const sim = createSimulatedQnn({ nullSlots: ['graphExecute', 'memRegister', 'errorGetMessage'] });
    const qnn = new RawQnn(sim);
    for (const i of SERVED) expect(qnn.coreSlot(i) !== NULL, `slot ${i}`).toBe(![21, 35, 48].includes(i));
    qnn.dispose();
    sim.dispose();
  });

  it('the valid slot count follows the core API minor: 2.10 predates errorGetMessage (slot 48)', () => {
    const before = koffi.stats().callbacks;
    const current = createSimulatedQnn();
    const withErrorSlot = koffi.stats().callbacks - before;
    const old = createSimulatedQnn({ coreApiVersion: { major: 2, minor: 10, patch: 0 } });
    const withoutErrorSlot = koffi.stats().callbacks - before - withErrorSlot;
    expect(withErrorSlot - withoutErrorSlot).toBe(1);
    const qnn = new RawQnn(old);
    expect(qnn.htp.core).toEqual([2, 10, 0]);
    for (const i of SERVED.filter((i) => i < 48)) expect(qnn.coreSlot(i)).not.toBe(NULL);
    qnn.dispose();
    old.dispose();
    current.dispose();
  });

  it('extra providers come first with their own ids, names and versions and an all-NULL table', () => {
    const sim = createSimulatedQnn({
      extraProviders: [
        { backendId: 6, coreApiVersion: { major: 1, minor: 9, patch: 0 } },
        { backendId: 3, coreApiVersion: { major: 2, minor: 30, patch: 1 } },
      ],
    });
    const qnn = new RawQnn(sim);
    expect(qnn.providers.map((p) => [p.backendId, p.name, p.core])).toEqual([
      [6, 'HTP_QTI_AISW', [1, 9, 0]],
      [3, 'CPU_QTI_AISW', [2, 30, 1]],
      [6, 'HTP_QTI_AISW', [2, 32, 0]],
    ]);
    expect(qnn.htp).toBe(qnn.providers[2]);
    for (let i = 0; i < 69; i++) expect(qnn.coreSlot(i, qnn.providers[1])).toBe(NULL);
    qnn.dispose();
    sim.dispose();
  });

  it('getProviders with a NULL out-pointer fails with COMMON_INVALID_ARGUMENT (1004)', () => {
    const sim = createSimulatedQnn();
    const out = koffi.alloc('uint8_t', 8);
    expect(codeOf(koffi.call(sim.interfaceGetProviders, Proto.getProviders, out, null))).toBe(1004);
    expect(codeOf(koffi.call(sim.systemInterfaceGetProviders, Proto.getProviders, null, out))).toBe(1004);
    expect(sim.calls('interfaceGetProviders')).toBe(1);
    koffi.free(out);
    const qnn = new RawQnn(sim);
    expect(qnn.providers).toHaveLength(1);
    qnn.dispose();
    sim.dispose();
  });
});

describe('calls, liveHandles, dispose', () => {
  it('counts calls per function; unknown names throw InvalidArgumentError', () => {
    const sim = createSimulatedQnn();
    const qnn = new RawQnn(sim);
    expect(sim.calls('graphExecute')).toBe(0);
    expect(sim.calls('createPowerConfigId')).toBe(0);
    expect(sim.calls('rpcmemAlloc')).toBe(0);
    const backend = qnn.create(CORE.backendCreate, Proto.ptr3, NULL, NULL);
    qnn.call(CORE.backendFree, Proto.ptr, backend);
    qnn.call(CORE.backendFree, Proto.ptr, backend);
    expect(sim.calls('backendCreate')).toBe(1);
    expect(sim.calls('backendFree')).toBe(2);
    expect(() => sim.calls('graphExecut')).toThrow(InvalidArgumentError);
    expect(() => sim.calls('graphExecut')).toThrow(/calls: "graphExecut" is not a function the simulated provider serves/);
    expect(sim.calls('graphExecute')).toBe(0);
    qnn.dispose();
    sim.dispose();
  });

  it('liveHandles counts every issued handle until its free call', () => {
    const sim = createSimulatedQnn();
    const qnn = new RawQnn(sim);
    const log = qnn.create(CORE.logCreate, Proto.ptrU32Ptr, NULL, 3);
    const backend = qnn.create(CORE.backendCreate, Proto.ptr3, log, NULL);
    const device = qnn.create(CORE.deviceCreate, Proto.ptr3, log, NULL);
    const profile = qnn.create(CORE.profileCreate, Proto.ptrU32Ptr, backend, 1);
    const sysOut = qnn.heap.alloc(8);
    qnn.ok(qnn.callSystem(SYSTEM.create, Proto.ptr, sysOut.ptr));
    expect(sim.liveHandles()).toBe(5);
    qnn.ok(qnn.callSystem(SYSTEM.free, Proto.ptr, sysOut.view.getBigUint64(0, true)));
    qnn.ok(qnn.call(CORE.profileFree, Proto.ptr, profile));
    qnn.ok(qnn.call(CORE.deviceFree, Proto.ptr, device));
    qnn.ok(qnn.call(CORE.backendFree, Proto.ptr, backend));
    expect(sim.liveHandles()).toBe(1);
    qnn.ok(qnn.call(CORE.logFree, Proto.ptr, log));
    expect(sim.liveHandles()).toBe(0);
    qnn.dispose();
    sim.dispose();
  });

  it('dispose unregisters every callback and is idempotent', () => {
    const before = koffi.stats().callbacks;
    const sim = createSimulatedQnn();
    expect(koffi.stats().callbacks).toBeGreaterThan(before + 30);
    sim.dispose();
    expect(koffi.stats().callbacks).toBe(before);
    expect(() => sim.dispose()).not.toThrow();
    expect(koffi.stats().callbacks).toBe(before);
  });
});

describe('options', () => {
  const cases: Array<[string, Parameters<typeof createSimulatedQnn>[0], RegExp]> = [
    ['unknown null slot', { nullSlots: ['graphExecut'] }, /options\.nullSlots "graphExecut" is not a core slot name/],
    ['bad core version', { coreApiVersion: { major: 2, minor: -1, patch: 0 } }, /options\.coreApiVersion \{"major":2,"minor":-1,"patch":0\} is not \{major, minor, patch\}/],
    ['bad extra backend id', { extraProviders: [{ backendId: 1.5, coreApiVersion: { major: 1, minor: 0, patch: 0 } }] }, /options\.extraProviders\[0\]\.backendId 1\.5 is not a uint32/],
    ['failExecute code 0', { failExecute: { graph: 'g', code: 0 } }, /options\.failExecute\.code 0 is not a QNN error code in 1\.\.65535/],
    ['failExecute without graph', { failExecute: { graph: '', code: 6031 } }, /options\.failExecute\.graph "" is not a graph name/],
    ['negative VTCM', { platform: { socModel: 57, arch: 75, vtcmSizeMb: -8 } }, /options\.platform\.vtcmSizeMb -8 is not a uint32/],
    ['binary info version 4', { binaryInfoVersion: 4 as 3 }, /options\.binaryInfoVersion 4 is not 1, 2 or 3/],
    [
      'GraphInfo V3 in the 64-byte stride of core API 2.20',
      { coreApiVersion: { major: 2, minor: 20, patch: 0 }, graphInfoVersion: 3 },
      /options\.graphInfoVersion 3 does not fit the 64-byte GraphInfo stride of core API 2\.20/,
    ],
  ];
  for (const [name, options, message] of cases) {
    it(`${name}: InvalidArgumentError naming the option, nothing registered`, () => {
      const before = koffi.stats().callbacks;
      expect(() => createSimulatedQnn(options)).toThrow(InvalidArgumentError);
      expect(() => createSimulatedQnn(options)).toThrow(message);
      expect(koffi.stats().callbacks).toBe(before);
    });
  }
});

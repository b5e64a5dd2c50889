import koffi from 'koffi';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSimulatedQnn, type SimulatedQnn } from '../../src/simulator/index.js';
import { readPlatformInfo } from './binary-info-reader.js';
import { ctxBin, Session } from './fixtures.js';
import { codeOf, CORE, encodeTensors, NULL, Proto, RawQnn, readPtr, readStr, view, type Heap, type Ptr } from './raw-client.js';

let bytes: Uint8Array;
beforeAll(async () => {
  bytes = (await ctxBin('device-perf-log')).bytes;
});

function withRaw<T>(options: Parameters<typeof createSimulatedQnn>[0], body: (qnn: RawQnn, sim: SimulatedQnn) => T): T {
  const sim = createSimulatedQnn(options);
  const qnn = new RawQnn(sim);
  try {
    return body(qnn, sim);
  } finally {
    qnn.dispose();
    sim.dispose();
  }
}

describe('backend and device', () => {
  it('backendGetApiVersion and backendGetBuildId', () =>
    withRaw({}, (qnn) => {
      const out = qnn.heap.alloc(24);
      qnn.ok(qnn.call(CORE.backendGetApiVersion, Proto.ptr, out.ptr));
      expect([0, 4, 8, 12, 16, 20].map((o) => out.view.getUint32(o, true))).toEqual([2, 32, 0, 5, 43, 0]);
      const id = qnn.heap.alloc(8);
      qnn.ok(qnn.call(CORE.backendGetBuildId, Proto.ptr, id.ptr));
      expect(readStr(id.view.getBigUint64(0, true))).toBe('v2.43.0.genie-ts-simulated');
    }));

  it('platform info reports the configured SoC and stays valid until deviceFreePlatformInfo', () =>
    withRaw({ platform: { socModel: 69, arch: 79, vtcmSizeMb: 4 } }, (qnn, sim) => {
      const out = qnn.heap.alloc(8);
      qnn.ok(qnn.call(CORE.deviceGetPlatformInfo, Proto.ptr2, NULL, out.ptr));
      const info = out.view.getBigUint64(0, true);
      expect(sim.liveHandles()).toBe(1);
      expect(readPlatformInfo(info)).toEqual({ version: 1, numHwDevices: 1, numCores: 1, socModel: 69, arch: 79, vtcmSize: 4n });
      qnn.ok(qnn.call(CORE.deviceFreePlatformInfo, Proto.ptr2, NULL, info));
      expect(sim.liveHandles()).toBe(0);
      const again = qnn.call(CORE.deviceFreePlatformInfo, Proto.ptr2, NULL, info);
      expect(qnn.failure(again, 1004)).toMatch(/platformInfo 0x[0-9a-f]+ was not returned by deviceGetPlatformInfo or is freed/);
    }));

  /** A device config list with one HTP custom config (12 B) or a plain option. */
  function deviceConfigs(heap: Heap, option: number, custom?: [number, number, number]): Ptr {
    const config = heap.alloc(16);
    config.view.setUint32(0, option, true);
    if (custom !== undefined) {
      const htp = heap.alloc(12);
      custom.forEach((v, i) => htp.view.setUint32(i * 4, v, true));
      config.view.setBigUint64(8, htp.ptr, true);
    }
    return heap.list([config.ptr]);
  }

  it('device configs naming this SoC/arch are accepted; another chip or unknown options: DEVICE_INVALID_CONFIG (14001)', () =>
    withRaw({}, (qnn, sim) => {
      const { heap } = qnn;
      const device = qnn.create(CORE.deviceCreate, Proto.ptr3, NULL, deviceConfigs(heap, 0, [0, 57, 0]));
      const out = heap.alloc(8);
      const create = (configs: Ptr) => qnn.call(CORE.deviceCreate, Proto.ptr3, NULL, configs, out.ptr);
      expect(qnn.failure(create(deviceConfigs(heap, 0, [0, 69, 0])), 14001)).toMatch(/config\[0\] \(HTP SOC\)\.socModel 69 is not this device's SoC model 57/);
      expect(qnn.failure(create(deviceConfigs(heap, 0, [1, 0, 73])), 14001)).toMatch(/config\[0\] \(HTP ARCH\)\.arch 73 is not this device's arch V75/);
      expect(qnn.failure(create(deviceConfigs(heap, 0, [9, 0, 0])), 14001)).toMatch(/customConfig\.option 9 is not a QnnHtpDevice_ConfigOption_t/);
      expect(qnn.failure(create(deviceConfigs(heap, 4)), 14001)).toMatch(/config\[0\]\.option 4 is not a QnnDevice_ConfigOption_t/);
      expect(sim.liveHandles()).toBe(1);
      qnn.ok(qnn.call(CORE.deviceFree, Proto.ptr, device));
      expect(qnn.failure(qnn.call(CORE.deviceFree, Proto.ptr, device), 14000)).toMatch(/device 0x[0-9a-f]+ is not a live device handle/);
    }));

  it('FILO: deviceFree and backendFree fail while a context uses them (14003, 4002), then succeed', async () => {
    const sim = createSimulatedQnn();
    const s = await Session.open(sim, bytes);
    expect(s.qnn.failure(s.qnn.call(CORE.deviceFree, Proto.ptr, s.device), 14003)).toMatch(/device 0x[0-9a-f]+ still has 1 associated context/);
    expect(s.qnn.failure(s.qnn.call(CORE.backendFree, Proto.ptr, s.backend), 4002)).toMatch(/backend 0x[0-9a-f]+ still has 1 context\(s\); free them first/);
    expect(s.qnn.failure(s.qnn.call(CORE.backendFree, Proto.ptr, 0x3n), 4011)).toMatch(/backend 0x3 is not a live backend handle/);
    const rc = s.qnn.call(CORE.backendCreate, Proto.ptr3, NULL, deviceConfigs(s.qnn.heap, 9), s.qnn.heap.alloc(8).ptr);
    expect(s.qnn.failure(rc, 4012)).toMatch(/config\[0\]\.option 9 is not a QnnBackend_ConfigOption_t/);
    s.close();
    expect(sim.liveHandles()).toBe(0);
    sim.dispose();
  });
});

describe('HTP perf infrastructure', () => {
  const DCVS = [0, 1, 0, 0x10, 1, 40, 1, 0, 1, 0xa0, 0xa0, 0xa0, 1, 0xa0, 0xa0, 0xa0];
  /** A `QnnHtpPerfInfrastructure_PowerConfig_t` (68 B): option @0, uint32 fields from @4. */
  function powerConfig(heap: Heap, option: number, values: readonly number[]): Ptr {
    const block = heap.alloc(68);
    block.view.setUint32(0, option, true);
    values.forEach((v, i) => block.view.setUint32(4 + i * 4, v, true));
    return block.ptr;
  }

  it('records decoded power votes (Genie burst: DCVS V3, RPC latency, polling) and memory configs', () =>
    withRaw({}, (qnn, sim) => {
      const { heap } = qnn;
      const infraOut = heap.alloc(8);
      qnn.ok(qnn.call(CORE.deviceGetInfrastructure, Proto.ptr, infraOut.ptr));
      const infra = infraOut.view.getBigUint64(0, true);
      expect(view(infra, 4).getUint32(0, true)).toBe(0);
      const [create, destroy, set, setMemory] = [8, 16, 24, 32].map((o) => readPtr(infra, o));
      const idOut = heap.alloc(4);
      expect(codeOf(koffi.call(create, Proto.createPowerConfigId, 0, 0, idOut.ptr))).toBe(0);
      const id = idOut.view.getUint32(0, true);
      expect(sim.liveHandles()).toBe(1);
      const dcvs = [id, ...DCVS.slice(1)];
      const list = heap.list([powerConfig(heap, 1, dcvs), powerConfig(heap, 2, [100]), powerConfig(heap, 3, [9999]), powerConfig(heap, 5, [0, 0x100, 0x200, 0xffff, 0])]);
      expect(codeOf(koffi.call(set, Proto.setPowerConfig, id, list))).toBe(0);
      const grow = heap.alloc(8);
      grow.view.setUint32(0, 1, true);
      grow.view.setUint32(4, 2048, true);
      expect(codeOf(koffi.call(setMemory, Proto.setMemoryConfig, 0, 0, heap.list([grow.ptr])))).toBe(0);
      expect(codeOf(koffi.call(destroy, Proto.u32, id))).toBe(0);
      expect(sim.liveHandles()).toBe(0);
      const names = ['contextId', 'setDcvsEnable', 'dcvsEnable', 'powerMode', 'setSleepLatency', 'sleepLatency', 'setSleepDisable', 'sleepDisable', 'setBusParams', 'busVoltageCornerMin', 'busVoltageCornerTarget', 'busVoltageCornerMax', 'setCoreParams', 'coreVoltageCornerMin', 'coreVoltageCornerTarget', 'coreVoltageCornerMax'];
      expect(sim.perfCalls()).toEqual([
        { fn: 'createPowerConfigId', deviceId: 0, coreId: 0, id },
        {
          fn: 'setPowerConfig',
          id,
          configs: [
            { option: 'DCVS_V3', values: Object.fromEntries(names.map((n, i) => [n, dcvs[i]])) },
            { option: 'RPC_CONTROL_LATENCY', values: { value: 100 } },
            { option: 'RPC_POLLING_TIME', values: { value: 9999 } },
            { option: 'HMX_V2', values: { hmxPickDefault: 0, hmxVoltageCornerMin: 0x100, hmxVoltageCornerTarget: 0x200, hmxVoltageCornerMax: 0xffff, hmxPerfMode: 0 } },
          ],
        },
        { fn: 'setMemoryConfig', deviceId: 0, coreId: 0, configs: [{ option: 'GROW_SIZE', growSize: 2048 }] },
        { fn: 'destroyPowerConfigId', id },
      ]);
      expect(sim.calls('setPowerConfig')).toBe(1);
    }));

  it('bad votes fail with PERF_INFRASTRUCTURE codes and record nothing', () =>
    withRaw({}, (qnn, sim) => {
      const { heap } = qnn;
      const infraOut = heap.alloc(8);
      qnn.ok(qnn.call(CORE.deviceGetInfrastructure, Proto.ptr, infraOut.ptr));
      const infra = infraOut.view.getBigUint64(0, true);
      const [create, destroy, set, setMemory] = [8, 16, 24, 32].map((o) => readPtr(infra, o));
      const idOut = heap.alloc(4);
      koffi.call(create, Proto.createPowerConfigId, 0, 0, idOut.ptr);
      const id = idOut.view.getUint32(0, true);
      const recorded = sim.perfCalls().length;
      const setRc = (target: number, list: Ptr) => Number(koffi.call(set, Proto.setPowerConfig, target, list));
      expect(qnn.failure(setRc(id, heap.list([powerConfig(heap, 1, [id + 1, ...DCVS.slice(1)])])), 13001)).toMatch(/configs\[0\] \(DCVS_V3\)\.contextId \d+ is not the power config id \d+/);
      expect(qnn.failure(setRc(id, heap.list([powerConfig(heap, 3, [10000])])), 13001)).toMatch(/configs\[0\] \(RPC_POLLING_TIME\) 10000 us exceeds 9999/);
      expect(qnn.failure(setRc(id, heap.list([powerConfig(heap, 2, [100]), powerConfig(heap, 99, [])])), 13002)).toMatch(/configs\[1\]\.option 99 is not a power config option/);
      expect(qnn.failure(setRc(id, NULL), 13001)).toMatch(/config list is NULL/);
      expect(qnn.failure(setRc(id + 7, heap.list([powerConfig(heap, 2, [100])])), 13001)).toMatch(new RegExp(`power config id ${id + 7} was not created or is destroyed`));
      expect(qnn.failure(Number(koffi.call(create, Proto.createPowerConfigId, 0, 0, NULL)), 13000)).toMatch(/powerConfigId out-pointer is NULL/);
      expect(qnn.failure(Number(koffi.call(create, Proto.createPowerConfigId, 1, 0, idOut.ptr)), 13001)).toMatch(/deviceId 1 \/ coreId 0: the simulated HTP has only device 0, core 0/);
      const badGrow = heap.alloc(8);
      badGrow.view.setUint32(0, 2, true);
      expect(qnn.failure(Number(koffi.call(setMemory, Proto.setMemoryConfig, 0, 0, heap.list([badGrow.ptr]))), 13002)).toMatch(/configs\[0\]\.option 2 is not a memory config option/);
      expect(sim.perfCalls()).toHaveLength(recorded);
      expect(codeOf(koffi.call(destroy, Proto.u32, id))).toBe(0);
      expect(qnn.failure(Number(koffi.call(destroy, Proto.u32, id)), 13001)).toMatch(/was not created or is destroyed/);
    }));
});

describe('profiling', () => {
  interface Event {
    type: number;
    unit: number;
    value: bigint;
    identifier: string;
    sub: Event[];
  }

  function events(qnn: RawQnn, profile: Ptr): Event[] {
    const ids = qnn.heap.alloc(8);
    const n = qnn.heap.alloc(4);
    qnn.ok(qnn.call(CORE.profileGetEvents, Proto.ptr3, profile, ids.ptr, n.ptr));
    return readEvents(qnn, ids.view.getBigUint64(0, true), n.view.getUint32(0, true));
  }

  function readEvents(qnn: RawQnn, array: Ptr, count: number): Event[] {
    return Array.from({ length: count }, (_, i) => {
      const id = view(array, (i + 1) * 8).getBigUint64(i * 8, true);
      const data = qnn.heap.alloc(24);
      qnn.ok(qnn.call(CORE.profileGetEventData, Proto.u64Ptr, id, data.ptr));
      const subIds = qnn.heap.alloc(8);
      const subN = qnn.heap.alloc(4);
      qnn.ok(qnn.call(CORE.profileGetSubEvents, Proto.u64Ptr2, id, subIds.ptr, subN.ptr));
      return {
        type: data.view.getUint32(0, true),
        unit: data.view.getUint32(4, true),
        value: data.view.getBigUint64(8, true),
        identifier: readStr(data.view.getBigUint64(16, true)),
        sub: readEvents(qnn, subIds.view.getBigUint64(0, true), subN.view.getUint32(0, true)),
      };
    });
  }

  it('context load and graph execute events; a reused profile is reset', async () => {
    const sim = createSimulatedQnn();
    const s = await Session.open(sim, bytes);
    const { qnn } = s;
    const profile = qnn.create(CORE.profileCreate, Proto.ptrU32Ptr, s.backend, 1);
    const ctx = s.createContext(NULL, undefined, profile);
    const [init] = events(qnn, profile);
    expect(init).toMatchObject({ type: 100, unit: 1, identifier: 'contextCreateFromBinary', sub: [] });

    const oldIds = qnn.heap.alloc(8);
    qnn.ok(qnn.call(CORE.profileGetEvents, Proto.ptr3, profile, oldIds.ptr, qnn.heap.alloc(4).ptr));
    const oldId = view(oldIds.view.getBigUint64(0, true), 8).getBigUint64(0, true);

    const ar1 = 'token_ar1_cl16_1_of_1';
    expect(codeOf(s.execute(ar1, undefined, undefined, { profile }))).toBe(0);
    const list = events(qnn, profile);
    expect(list).toHaveLength(1);
    const [execute] = list;
    expect(execute).toMatchObject({ type: 400, unit: 1, identifier: ar1 });
    expect(execute.sub.map((e) => [e.type, e.unit, e.identifier])).toEqual([
      [3001, 1, ar1],
      [3004, 1, ar1],
    ]);
    expect(execute.sub[1].value).toBeLessThanOrEqual(execute.sub[0].value);
    const data = qnn.heap.alloc(24);
    const stale = qnn.call(CORE.profileGetEventData, Proto.u64Ptr, oldId, data.ptr);
    expect(qnn.failure(stale, 12000)).toMatch(new RegExp(`event id ${oldId} is not an event of a live profile`));

    expect(qnn.failure(qnn.call(CORE.profileCreate, Proto.ptrU32Ptr, s.backend, 3, qnn.heap.alloc(8).ptr), 1004)).toMatch(/level 3 is not BASIC \(1\) or DETAILED \(2\)/);
    expect(qnn.failure(qnn.call(CORE.profileCreate, Proto.ptrU32Ptr, 0x8n, 1, qnn.heap.alloc(8).ptr), 12000)).toMatch(/backend 0x8 is not a live backend handle/);
    qnn.ok(qnn.call(CORE.contextFree, Proto.ptr2, ctx, profile));
    expect(events(qnn, profile).map((e) => [e.type, e.identifier])).toEqual([[500, 'contextFree']]);
    qnn.ok(qnn.call(CORE.profileFree, Proto.ptr, profile));
    expect(qnn.failure(qnn.call(CORE.profileFree, Proto.ptr, profile), 12000)).toMatch(/profile 0x[0-9a-f]+ is not a live profile handle/);
    s.close();
    expect(sim.liveHandles()).toBe(0);
    sim.dispose();
  });
});

describe.skipIf(process.platform !== 'linux')('log callback', () => {
  const libc = koffi.load('libc.so.6');
  const vsnprintf = libc.func('int vsnprintf(_Out_ uint8_t *buf, size_t n, const char *fmt, void *ap)');
  const received: Array<{ format: string; level: number; text: string }> = [];
  const callback = koffi.register((format: Ptr, level: number, _timestamp: unknown, args: Ptr) => {
    const buffer = Buffer.alloc(1024);
    const length = vsnprintf(buffer, buffer.length, format, args) as number;
    received.push({ format: readStr(format), level, text: buffer.subarray(0, Math.min(length, 1023)).toString() });
  }, koffi.pointer(Proto.logCallback));
  afterAll(() => koffi.unregister(callback));

  it('messages are formatted by the callee through the va_list, filtered by level, sync and async', async () => {
    const sim = createSimulatedQnn();
    const raw = new RawQnn(sim);
    received.length = 0;
    const log = raw.create(CORE.logCreate, Proto.ptrU32Ptr, callback, 3);
    const s = await Session.open(sim, bytes, log);
    const { qnn } = s;
    const backendLine = 'simulated HTP backend created (core API 2.32.0)';
    expect(received[0]).toEqual({ format: process.arch === 'x64' ? '%s' : backendLine, level: 3, text: backendLine });
    expect(received[1]).toMatchObject({ level: 3, text: 'simulated HTP device created (SoC model 57, V75, 8 MB VTCM)' });
    expect(received[2]).toMatchObject({ level: 3, text: expect.stringMatching(/^context 0x[0-9a-f]+ created with graphs token_ar1_cl16_1_of_1, prompt_ar4_cl16_1_of_1$/) });
    expect(received).toHaveLength(3);

    const rc = qnn.call(CORE.graphRetrieve, Proto.ptr3, s.context, qnn.heap.cstr('x%d%s%n'), qnn.heap.alloc(8).ptr);
    expect(received.at(-1)).toEqual({ format: expect.any(String), level: 1, text: qnn.message(rc) });
    expect(received.at(-1)!.text).toMatch(/^graphRetrieve: no graph "x%d%s%n" in context/);

    qnn.ok(qnn.call(CORE.logSetLogLevel, Proto.ptrU32, log, 1));
    const quiet = received.length;
    s.createContext(NULL);
    expect(received).toHaveLength(quiet);

    qnn.ok(qnn.call(CORE.logSetLogLevel, Proto.ptrU32, log, 5));
    const ar1 = 'token_ar1_cl16_1_of_1';
    const ins = encodeTensors(qnn.heap, s.wire(ar1, 'inputs'));
    const outs = encodeTensors(qnn.heap, s.wire(ar1, 'outputs'));
    const { handle, meta } = s.graph(ar1);
    const args = [handle, ins.ptr, meta.inputs.length, outs.ptr, meta.outputs.length, NULL, NULL];
    const before = received.length;
    expect(codeOf(await qnn.callAsync(CORE.graphExecute, Proto.execute, ...args))).toBe(0);
    expect(codeOf(qnn.call(CORE.graphExecute, Proto.execute, ...args))).toBe(0);
    const executed = { format: expect.any(String), level: 5, text: expect.stringMatching(/^graph "token_ar1_cl16_1_of_1" executed in \d+ us$/) };
    expect(received.slice(before)).toEqual([executed, executed]);

    expect(qnn.failure(qnn.call(CORE.logSetLogLevel, Proto.ptrU32, log, 9), 11003)).toMatch(/maxLogLevel 9 is not a QnnLog_Level_t \(1\.\.5\)/);
    expect(qnn.failure(qnn.call(CORE.logCreate, Proto.ptrU32Ptr, callback, 0, qnn.heap.alloc(8).ptr), 11003)).toMatch(/maxLogLevel 0/);
    expect(qnn.failure(qnn.call(CORE.backendCreate, Proto.ptr3, 0x44n, NULL, qnn.heap.alloc(8).ptr), 4011)).toMatch(/log 0x44 is not a live log handle/);
    for (const ctx of sim.contexts().map((c) => c.handle).filter((h) => h !== s.context)) qnn.ok(qnn.call(CORE.contextFree, Proto.ptr2, ctx, NULL));
    s.close();
    raw.ok(raw.call(CORE.logFree, Proto.ptr, log));
    expect(raw.failure(raw.call(CORE.logFree, Proto.ptr, log), 11004)).toMatch(/log 0x[0-9a-f]+ is not a live log handle/);
    expect(sim.liveHandles()).toBe(0);
    raw.dispose();
    sim.dispose();
  });
});

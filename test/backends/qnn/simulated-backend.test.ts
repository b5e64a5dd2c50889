/**
 * openQnnBackend end to end on the simulated HTP provider: the same GraphSpecs as the reference
 * backend and, for the same inputs through a KV loop, byte-identical logits; native resources all
 * freed on dispose; perf vote, log, profiling and zero-copy registration as the provider saw them.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { openReferenceBackend } from '../../../src/backends/reference/index.js';
import { openQnnBackend, type QnnGraphBackend } from '../../../src/backends/qnn/index.js';
import { rpcmemAllocator, type QnnLogLevelName } from '../../../src/qnn/binding/index.js';
import { KvLoopDriver } from '../reference/kv-loop-driver.js';
import { CONTINUATION, PROMPT, config, simulatedProviders, writeBundle } from './bundle.js';

let dir: string;
let paths: string[];
let referenceGraphs: unknown;
let referenceRows: Float32Array[];

beforeAll(async () => {
  ({ dir, paths } = await writeBundle('qnn-e2e'));
  const reference = await openReferenceBackend(paths);
  referenceGraphs = reference.graphs;
  referenceRows = await new KvLoopDriver(reference, config).run(PROMPT, CONTINUATION, 4, 1);
  await reference.dispose();
});

const sim = simulatedProviders();

const bytesOf = (rows: Float32Array[]) => rows.map((row) => Buffer.from(row.buffer, row.byteOffset, row.byteLength).toString('hex'));

async function runLoop(backend: QnnGraphBackend): Promise<Float32Array[]> {
  return new KvLoopDriver(backend, config).run(PROMPT, CONTINUATION, 4, 1);
}

describe('openQnnBackend on the simulated provider', () => {
  it('lists the same GraphSpecs as the reference backend and produces byte-identical logits', async () => {
    const provider = sim();
    const backend = await openQnnBackend(paths, { simulated: provider });
    expect(backend.type).toBe('QnnHtp');
    expect(backend.graphs).toEqual(referenceGraphs);
    const rows = await runLoop(backend);
    expect(rows).toHaveLength(PROMPT.length + CONTINUATION.length);
    expect(bytesOf(rows)).toEqual(bytesOf(referenceRows));
    expect(provider.calls('graphExecute')).toBeGreaterThan(0);
    expect(provider.liveHandles()).toBeGreaterThan(0);
    await backend.dispose();
    expect(provider.liveHandles()).toBe(0);
  });

  it('gives the same logits with sync execute and on the oldest supported core API (2.14, BinaryInfo V1)', async () => {
    for (const { executeMode, simulatedOptions } of [
      { executeMode: 'sync' as const },
      { simulatedOptions: { coreApiVersion: { major: 2, minor: 14, patch: 0 } } },
    ]) {
      const provider = sim(simulatedOptions);
      const backend = await openQnnBackend(paths, { executeMode, simulated: provider });
      expect(bytesOf(await runLoop(backend))).toEqual(bytesOf(referenceRows));
      await backend.dispose();
      expect(provider.liveHandles()).toBe(0);
    }
  });

  it('votes burst on the HTP perf infrastructure and releases the vote on dispose', async () => {
    const provider = sim();
    const backend = await openQnnBackend(paths, { simulated: provider, perfProfile: 'burst' });
    const calls = provider.perfCalls();
    expect(calls[0]).toMatchObject({ fn: 'createPowerConfigId', deviceId: 0, coreId: 0 });
    const id = (calls[0] as { id: number }).id;
    const sets = calls.filter((c) => c.fn === 'setPowerConfig');
    const configs = sets.flatMap((c) => (c.fn === 'setPowerConfig' ? c.configs : []));
    expect(configs.map((c) => c.option)).toEqual(['DCVS_V3', 'RPC_CONTROL_LATENCY', 'RPC_POLLING_TIME']);
    expect(configs[0].values).toMatchObject({
      contextId: id,
      setDcvsEnable: 1,
      dcvsEnable: 0,
      powerMode: 0x10,
      setSleepLatency: 1,
      sleepLatency: 40,
      busVoltageCornerMin: 0xa0,
      busVoltageCornerTarget: 0xa0,
      busVoltageCornerMax: 0xa0,
      coreVoltageCornerMin: 0xa0,
      coreVoltageCornerTarget: 0xa0,
      coreVoltageCornerMax: 0xa0,
    });
    expect(configs[1].values).toEqual({ value: 100 });
    expect(configs[2].values).toEqual({ value: 9999 });
    expect(provider.perfCalls().some((c) => c.fn === 'destroyPowerConfigId')).toBe(false);
    await backend.dispose();
    expect(provider.perfCalls().at(-1)).toEqual({ fn: 'destroyPowerConfigId', id });
    expect(provider.liveHandles()).toBe(0);
  });

  it('applies the QnnHtp config: spill-fill group, file-read budget, graph switching', async () => {
    const provider = sim();
    const backend = await openQnnBackend(paths, {
      simulated: provider,
      htp: { spillFillBufsize: 320000000, mmapBudget: 40, useMmap: true, enableGraphSwitching: true },
    });
    const contexts = provider.contexts();
    expect(contexts).toHaveLength(2);
    const [first, second] = contexts.map((c) => c.config);
    expect(first.spillFillGroup).toEqual({ firstGroupHandle: 0n, maxSpillFillBuffer: 320000000n });
    expect(second.spillFillGroup?.maxSpillFillBuffer).toBe(320000000n);
    expect(second.spillFillGroup?.firstGroupHandle).toBe(contexts[0].handle);
    expect(first).toMatchObject({ memoryLimitHint: 1024n, persistentBinary: true });
    expect(bytesOf(await runLoop(backend))).toEqual(bytesOf(referenceRows));
    await backend.dispose();
    expect(provider.liveHandles()).toBe(0);
  });

  it('logs platform info at info level and backend messages formatted through vsnprintf', async () => {
    const lines: [string, string][] = [];
    const provider = sim({ failExecute: { graph: 'token_ar1_cl16_1_of_2', code: 6004 } });
    const open = (logLevel: QnnLogLevelName) =>
      openQnnBackend(paths, { simulated: provider, logLevel, onLog: (level, message) => lines.push([level, message]) });
    const backend = await open('info');
    expect(lines).toContainEqual(['info', 'QNN platform device 0: SoC SM8650 (57), Hexagon v75, VTCM 8 MB, 1 core']);
    new KvLoopDriver(backend, config);
    await expect(backend.execute('token_ar1_cl16_1_of_2')).rejects.toThrow();
    const error = lines.find(([level]) => level === 'error');
    expect(error?.[1]).toMatch(/^graphExecute: .+/);
    await backend.dispose();
    lines.length = 0;
    const quiet = await open('error');
    expect(lines.filter(([level]) => level === 'info')).toEqual([]);
    await quiet.dispose();
    expect(provider.liveHandles()).toBe(0);
  });

  it('collects QnnProfile events for context loads and every execute when profiling', async () => {
    const provider = sim();
    const backend = await openQnnBackend(paths, { simulated: provider, profiling: 'basic' });
    const loads = backend.takeProfile();
    expect(loads.map((r) => [r.phase, r.target])).toEqual(paths.map((p) => ['load', p]));
    await runLoop(backend);
    const records = backend.takeProfile();
    expect(records.every((r) => r.phase === 'execute')).toBe(true);
    expect(records).toHaveLength(provider.calls('graphExecute'));
    const events = records[0].events;
    expect(events.length).toBeGreaterThan(0);
    expect(events.every((e) => Number.isFinite(e.value) && typeof e.unit === 'string')).toBe(true);
    expect(backend.takeProfile()).toEqual([]);
    await backend.dispose();
    expect(provider.liveHandles()).toBe(0);
  });

  it('registers rpcmem buffers as CUSTOM shared-buffer mem handles (zero-copy) with identical logits', async () => {
    const provider = sim();
    const backend = await openQnnBackend(paths, { simulated: provider, sharedMemory: rpcmemAllocator(provider.rpcmem) });
    expect(bytesOf(await runLoop(backend))).toEqual(bytesOf(referenceRows));
    expect(provider.calls('rpcmemAlloc')).toBeGreaterThan(0);
    expect(provider.calls('memRegister')).toBeGreaterThan(0);
    await backend.dispose();
    expect(provider.calls('memDeRegister')).toBeGreaterThan(0);
    expect(provider.calls('rpcmemFree')).toBe(provider.calls('rpcmemAlloc'));
    expect(provider.rpcmem.stats()).toEqual({ live: 0, liveBytes: 0, strayFrees: 0 });
    expect(provider.liveHandles()).toBe(0);
  });

  it('rpcmem views kept past dispose are emptied, and their blocks freed at dispose, each exactly once (dispose idempotent)', async () => {
    const provider = sim();
    const backend = await openQnnBackend(paths, { simulated: provider, sharedMemory: rpcmemAllocator(provider.rpcmem) });
    await runLoop(backend);
    const kept = [backend.allocate(4 << 20), backend.allocate(16)];
    const words = new Float32Array(kept[0].buffer, 64, 16);
    for (const view of kept) view.fill(0xa5);
    const allocated = provider.calls('rpcmemAlloc');
    expect(provider.rpcmem.stats().live).toBe(allocated);
    await Promise.all([backend.dispose(), backend.dispose()]);
    await backend.dispose();
    // Freed while the views are still held: nothing waits for them to be collected.
    expect(provider.calls('rpcmemFree')).toBe(allocated);
    expect(provider.rpcmem.stats()).toEqual({ live: 0, liveBytes: 0, strayFrees: 0 });
    // Lengths first: reading a view that still had its length would read freed memory.
    expect([kept[0].byteLength, kept[1].byteLength, words.length]).toEqual([0, 0, 0]);
    expect([kept[0][0], kept[1][15], words[0]]).toEqual([undefined, undefined, undefined]);
    expect(() => kept[0].fill(1)).toThrow(TypeError);
    expect(() => backend.allocate(16)).toThrow(/disposed/);
    expect(provider.liveHandles()).toBe(0);
  });

  it('disposes a provider handed over with ownsSimulated exactly once, on dispose or when opening fails', async () => {
    const handedOver = () => {
      const provider = sim();
      const record = { provider, disposals: 0 };
      return { record, simulated: { ...provider, dispose: () => (record.disposals++, provider.dispose()) } };
    };
    const opened = handedOver();
    const backend = await openQnnBackend(paths, { simulated: opened.simulated, ownsSimulated: true });
    expect(bytesOf(await runLoop(backend))).toEqual(bytesOf(referenceRows));
    await backend.dispose();
    await backend.dispose();
    expect(opened.record.disposals).toBe(1);
    const failed = handedOver();
    await expect(openQnnBackend([join(dir, 'missing.bin')], { simulated: failed.simulated, ownsSimulated: true })).rejects.toThrow();
    expect(failed.record.disposals).toBe(1);
  });

  it('votes the perf profile and RPC latency of the config\'s extensions file', async () => {
    const extensionsPath = join(dir, 'htp_backend_ext_config.json');
    await writeFile(extensionsPath, JSON.stringify({ devices: [{ cores: [{ perf_profile: 'high_performance', rpc_control_latency: 250 }] }] }));
    const provider = sim();
    const backend = await openQnnBackend(paths, { simulated: provider, extensionsPath });
    const configs = provider.perfCalls().flatMap((c) => (c.fn === 'setPowerConfig' ? c.configs : []));
    expect(configs[0].values).toMatchObject({ dcvsEnable: 0, sleepLatency: 100, coreVoltageCornerTarget: 0x80 });
    expect(configs[1]).toEqual({ option: 'RPC_CONTROL_LATENCY', values: { value: 250 } });
    await backend.dispose();
    expect(provider.liveHandles()).toBe(0);
  });
});

/**
 * Memory the QnnHtp backend hands out (`allocate()`), kept or moved by the caller past dispose: never
 * freed under a view, freed exactly once, and not held back by views the caller keeps. The crash
 * cases run in a child process (test/reliability/children/qnn-memory-after-dispose.ts, with
 * `--expose-gc` so that collections really happen in between): before the fix each of them ended
 * with SIGSEGV or SIGABRT, or read freed memory.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openQnnBackend } from '../../src/backends/qnn/index.js';
import { rpcmemAllocator } from '../../src/qnn/binding/index.js';
import { createSimulatedQnn } from '../../src/simulator/index.js';
import { writeBundle } from '../backends/qnn/bundle.js';
import { reportOf, runChild, type ChildExit } from '../children/run-child.js';

const CHILD = '../reliability/children/qnn-memory-after-dispose.ts';
let paths: string[];

beforeAll(async () => {
  ({ paths } = await writeBundle('qnn-memory-lifetime'));
});

function child(scenario: string): Promise<ChildExit> {
  const nodeOptions = `${process.env.NODE_OPTIONS ?? ''} --expose-gc`.trim();
  return runChild(CHILD, [scenario, ...paths], { env: { ...process.env, NODE_OPTIONS: nodeOptions } });
}

const clean = (exit: ChildExit) => ({ code: exit.code, signal: exit.signal, stderr: exit.stderr });
const EMPTY = { byteLength: 0, first: null, sum: 0, last: null, fill: 'TypeError' };

describe('QnnHtp allocate() memory after dispose (child processes, forced GC)', () => {
  it('rpcmem: a 4 MiB and a 16-byte view kept past dispose read and write as empty views, before and after GC; every block freed once', async () => {
    const exit = await child('rpcmem-kept');
    expect(clean(exit)).toEqual({ code: 0, signal: null, stderr: '' });
    const report = reportOf<Record<string, unknown>>(exit);
    expect(report).toEqual({
      afterDispose: [EMPTY, EMPTY],
      afterGc: [EMPTY, EMPTY],
      rpcmemAlloc: report.rpcmemAlloc,
      rpcmemFree: report.rpcmemAlloc,
      liveHandles: 0,
    });
    expect(report.rpcmemAlloc).toBeGreaterThan(2);
  });

  it('raw client buffers: the caller transferring every bound ArrayBuffer away and dropping it does not free memory under QNN', async () => {
    const exit = await child('raw-transferred');
    expect(clean(exit)).toEqual({ code: 0, signal: null, stderr: '' });
    expect(reportOf(exit)).toEqual({ executes: 20, intact: true, afterDispose: [EMPTY, EMPTY], rpcmemAlloc: 0, rpcmemFree: 0, liveHandles: 0 });
  });

  it('rpcmem: a block whose memory the caller moved to another ArrayBuffer (BYOB read) is kept, so that ArrayBuffer reads live memory', async () => {
    const exit = await child('rpcmem-aliased');
    expect(clean(exit)).toEqual({ code: 0, signal: null, stderr: '' });
    const report = reportOf<{ rpcmemAlloc: number }>(exit);
    expect(report).toEqual({
      movedAway: true,
      // 1 + 2 + 3 + 4 read into the first bytes, then the 0x11 fill: bytes that were never freed.
      alias: { byteLength: 4 << 20, sum: 10 + 4 * 0x11, last: 0x22 },
      rpcmemAlloc: report.rpcmemAlloc,
      rpcmemFree: report.rpcmemAlloc - 1,
      liveHandles: 1,
    });
  });
});

describe('QnnHtp rpcmem blocks are returned at dispose, whatever views the caller keeps', () => {
  const sim = createSimulatedQnn();
  afterAll(() => sim.dispose());

  it('30 open / allocate / dispose cycles with every view kept: no rpcmem block outlives its backend', async () => {
    const kept: Uint8Array[] = [];
    for (let cycle = 0; cycle < 30; cycle++) {
      const backend = await openQnnBackend(paths, { simulated: sim, sharedMemory: rpcmemAllocator(sim.rpcmem) });
      kept.push(backend.allocate(1 << 20), backend.allocate(64));
      expect(sim.rpcmem.stats().liveBytes).toBeGreaterThanOrEqual((1 << 20) + 64);
      await backend.dispose();
      expect(sim.rpcmem.stats()).toEqual({ live: 0, liveBytes: 0, strayFrees: 0 });
    }
    expect(kept.every((view) => view.byteLength === 0)).toBe(true);
    expect(sim.calls('rpcmemFree')).toBe(sim.calls('rpcmemAlloc'));
    expect(sim.liveHandles()).toBe(0);
  });
});

import koffi from 'koffi';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSimulatedQnn, type SimulatedQnn } from '../../src/simulator/index.js';
import type { ReadTensor } from './binary-info-reader.js';
import { ctxBin, Session, tensorBytes } from './fixtures.js';
import { codeOf, CORE, NULL, Proto, type Heap, type Ptr, type WireTensorSpec } from './raw-client.js';

let sim: SimulatedQnn;
let s: Session;
const AR4 = 'prompt_ar4_cl16_1_of_1';
const AR1 = 'token_ar1_cl16_1_of_1';

beforeAll(async () => {
  sim = createSimulatedQnn();
  s = await Session.open(sim, (await ctxBin('memory')).bytes);
});

afterAll(() => {
  s.close();
  expect(sim.liveHandles()).toBe(0);
  sim.dispose();
});

const rpcmemAlloc = (size: number): Ptr => BigInt(koffi.call(sim.rpcmem.alloc, Proto.rpcmemAlloc, 25, 1, size) ?? 0n);
const rpcmemFree = (ptr: Ptr): void => void koffi.call(sim.rpcmem.free, Proto.rpcmemFree, ptr);
const toFd = (ptr: Ptr): number => koffi.call(sim.rpcmem.toFd, Proto.rpcmemToFd, ptr) as number;

interface Descriptor {
  dims: readonly number[] | null;
  numDim?: number;
  dataType: number;
  memType: number;
  fd?: number;
  htp?: { type: number; size: bigint; fd: number; offset: bigint };
}

/** `Qnn_MemDescriptor_t` array (48 B each), CUSTOM ones pointing at a `QnnMemHtp_Descriptor_t` (32 B). */
function descriptors(heap: Heap, list: readonly Descriptor[]): Ptr {
  const block = heap.alloc(48 * list.length);
  list.forEach((d, i) => {
    const at = i * 48;
    block.view.setUint32(at, d.numDim ?? d.dims?.length ?? 0, true);
    block.view.setBigUint64(at + 8, d.dims === null ? NULL : heap.u32s(d.dims), true);
    block.view.setUint32(at + 24, d.dataType, true);
    block.view.setUint32(at + 28, d.memType, true);
    if (d.htp !== undefined) {
      const htp = heap.alloc(32);
      htp.view.setUint32(0, d.htp.type, true);
      htp.view.setBigUint64(8, d.htp.size, true);
      htp.view.setInt32(16, d.htp.fd, true);
      htp.view.setBigUint64(24, d.htp.offset, true);
      block.view.setBigUint64(at + 32, htp.ptr, true);
    } else {
      block.view.setInt32(at + 32, d.fd ?? -1, true);
    }
  });
  return block.ptr;
}

function register(list: readonly Descriptor[], context: Ptr = s.context): { rc: number; handles: Ptr[] } {
  const out = s.qnn.heap.alloc(8 * list.length);
  const rc = s.qnn.call(CORE.memRegister, Proto.memRegister, context, descriptors(s.qnn.heap, list), list.length, out.ptr);
  return { rc, handles: list.map((_, i) => out.view.getBigUint64(i * 8, true)) };
}

function deregister(handles: readonly Ptr[]): number {
  return s.qnn.call(CORE.memDeRegister, Proto.ptrU32, s.qnn.heap.list(handles), handles.length);
}

/** Fills the graph's RAW input buffers with a deterministic pattern (ids in vocab). */
function fillInputs(graph: string): void {
  const open = s.graph(graph);
  for (const t of open.meta.inputs) {
    const block = open.buffers.get(t.name)!;
    if (t.name === 'input_ids') for (let i = 0; i < t.dims[1]; i++) block.view.setInt32(i * 4, 3 + 7 * i, true);
    else for (let i = 0; i < block.bytes.length / 4; i++) block.view.setFloat32(i * 4, Math.sin(i * 0.37) * 0.5, true);
  }
}

const custom = (t: ReadTensor, fd: number, size: number, offset: number): Descriptor => ({
  dims: t.dims,
  dataType: t.dataType,
  memType: 2,
  htp: { type: 1, size: BigInt(size), fd, offset: BigInt(offset) },
});

describe('shared buffers: rpcmem stand-in + memRegister + MEMHANDLE tensors', () => {
  it('rpcmem: fake fds for live buffers, -1 otherwise; size 0 gives NULL', () => {
    const a = rpcmemAlloc(64);
    const b = rpcmemAlloc(64);
    expect(a).not.toBe(NULL);
    expect(toFd(b)).toBe(toFd(a) + 1);
    expect(toFd(a + 8n)).toBe(-1);
    expect(rpcmemAlloc(0)).toBe(NULL);
    const live = sim.liveHandles();
    rpcmemFree(a);
    rpcmemFree(b);
    expect(sim.liveHandles()).toBe(live - 2);
    expect(toFd(a)).toBe(-1);
  });

  it('rpcmem stats: live blocks and bytes; a free of a pointer that is not a live block is a stray free (double free), NULL is not', () => {
    const before = sim.rpcmem.stats();
    const a = rpcmemAlloc(100);
    const b = rpcmemAlloc(28);
    expect(sim.rpcmem.stats()).toEqual({ live: before.live + 2, liveBytes: before.liveBytes + 128, strayFrees: before.strayFrees });
    rpcmemFree(a);
    rpcmemFree(a); // double free
    rpcmemFree(b + 4n); // not the start of a block
    rpcmemFree(NULL);
    expect(sim.rpcmem.stats()).toEqual({ live: before.live + 1, liveBytes: before.liveBytes + 28, strayFrees: before.strayFrees + 2 });
    rpcmemFree(b);
    expect(sim.rpcmem.stats()).toEqual({ ...before, strayFrees: before.strayFrees + 2 });
  });

  it('rpcmem blocks still live when the provider is disposed are freed with it', () => {
    const other = createSimulatedQnn();
    koffi.call(other.rpcmem.alloc, Proto.rpcmemAlloc, 25, 1, 4 << 20);
    expect(other.rpcmem.stats()).toMatchObject({ live: 1, liveBytes: 4 << 20 });
    other.dispose();
    expect(other.rpcmem.stats()).toEqual({ live: 0, liveBytes: 0, strayFrees: 0 });
  });

  it('CUSTOM SHARED_BUFFER: every IO tensor of a graph at an offset in one buffer; outputs equal the RAW run', () => {
    fillInputs(AR4);
    const open = s.graph(AR4);
    expect(codeOf(s.execute(AR4))).toBe(0);
    const tensors = [...open.meta.inputs, ...open.meta.outputs];
    const offsets: number[] = [];
    let total = 0;
    for (const t of tensors) {
      offsets.push(total);
      total += Math.ceil(tensorBytes(t) / 64) * 64;
    }
    const base = rpcmemAlloc(total);
    const fd = toFd(base);
    const shared = new Uint8Array(koffi.view(base, total));
    open.meta.inputs.forEach((t, i) => shared.set(open.buffers.get(t.name)!.bytes, offsets[i]));
    const { rc, handles } = register(tensors.map((t, i) => custom(t, fd, total, offsets[i])));
    s.qnn.ok(rc);
    expect(new Set(handles).size).toBe(tensors.length);
    const asHandle = (side: 'inputs' | 'outputs', first: number): WireTensorSpec[] =>
      s.wire(AR4, side).map((w, i) => ({ ...w, memType: 1, memHandle: handles[first + i], data: undefined }));
    const inputs = asHandle('inputs', 0);
    const outputs = asHandle('outputs', open.meta.inputs.length);
    expect(codeOf(s.execute(AR4, inputs, outputs))).toBe(0);
    open.meta.outputs.forEach((t, i) => {
      const at = offsets[open.meta.inputs.length + i];
      const raw = open.buffers.get(t.name)!.bytes;
      expect(raw.some((b) => b !== 0)).toBe(true);
      expect(shared.subarray(at, at + raw.length)).toEqual(raw);
    });
    expect(sim.contexts()[0].memHandles).toBe(tensors.length);

    // A deregistered handle is rejected even though the tensor structs are unchanged.
    expect(codeOf(deregister([handles[0]]))).toBe(0);
    expect(s.qnn.failure(s.execute(AR4, inputs, outputs), 6004)).toMatch(/inputs\[0\] \("input_ids"\)\.memHandle 0x[0-9a-f]+ is not a registered mem handle/);
    expect(codeOf(deregister(handles.slice(1)))).toBe(0);
    rpcmemFree(base);
  });

  it('ION: one rpcmem buffer per tensor', () => {
    fillInputs(AR1);
    const open = s.graph(AR1);
    expect(codeOf(s.execute(AR1))).toBe(0);
    const tensors = [...open.meta.inputs, ...open.meta.outputs];
    const buffers = tensors.map((t) => rpcmemAlloc(tensorBytes(t)));
    open.meta.inputs.forEach((t, i) => new Uint8Array(koffi.view(buffers[i], tensorBytes(t))).set(open.buffers.get(t.name)!.bytes));
    const { rc, handles } = register(tensors.map((t, i) => ({ dims: t.dims, dataType: t.dataType, memType: 1, fd: toFd(buffers[i]) })));
    s.qnn.ok(rc);
    const n = open.meta.inputs.length;
    const inputs = s.wire(AR1, 'inputs').map((w, i) => ({ ...w, memType: 1, memHandle: handles[i] }));
    const outputs = s.wire(AR1, 'outputs').map((w, i) => ({ ...w, memType: 1, memHandle: handles[n + i] }));
    expect(codeOf(s.execute(AR1, inputs, outputs))).toBe(0);
    open.meta.outputs.forEach((t, i) => {
      expect(new Uint8Array(koffi.view(buffers[n + i], tensorBytes(t)))).toEqual(open.buffers.get(t.name)!.bytes);
    });
    // A handle registered for another tensor's shape is rejected.
    const swapped = inputs.map((w, i) => (i === 0 ? { ...w, memHandle: handles[1] } : w));
    expect(s.qnn.failure(s.execute(AR1, swapped, outputs), 6004)).toMatch(
      /inputs\[0\] \("input_ids"\)\.memHandle 0x[0-9a-f]+ was registered for FLOAT_32 \[[\d,]+\], not INT_32 \[1,1\]/,
    );
    s.qnn.ok(deregister(handles));
    for (const b of buffers) rpcmemFree(b);
  });

  it('a handle registered with another context is rejected; contextFree releases its handles', () => {
    const other = s.createContext(NULL);
    const ids = s.graph(AR1).meta.inputs[0];
    const buffer = rpcmemAlloc(64);
    const { rc, handles } = register([custom(ids, toFd(buffer), 64, 0)], other);
    s.qnn.ok(rc);
    const inputs = s.wire(AR1, 'inputs').map((w, i) => (i === 0 ? { ...w, memType: 1, memHandle: handles[0] } : w));
    expect(s.qnn.failure(s.execute(AR1, inputs), 6004)).toMatch(/memHandle 0x[0-9a-f]+ is registered with another context/);
    const live = sim.liveHandles();
    s.qnn.ok(s.qnn.call(CORE.contextFree, Proto.ptr2, other, NULL));
    expect(sim.liveHandles()).toBe(live - 2);
    expect(s.qnn.failure(deregister(handles), 8001)).toMatch(/memHandles\[0\] 0x[0-9a-f]+ is not a registered mem handle/);
    rpcmemFree(buffer);
  });
});

describe('memRegister errors: nothing registered', () => {
  const ids = (): ReadTensor => s.graph(AR4).meta.inputs[0];
  const cases: Array<[string, number, (fd: number) => Descriptor[], RegExp]> = [
    ['unknown fd', 8003, () => [custom(ids(), 4242, 1024, 0)], /memDescriptors\[0\]\.customInfo\.sharedBufferConfig\.fd 4242 is not the fd of a live rpcmem buffer/],
    ['tensor past the end', 8000, (fd) => [custom(ids(), fd, 1024, 1020)], /memDescriptors\[0\]: offset 1020 \+ 16 tensor bytes exceed customInfo\.size 1024/],
    ['size beyond the allocation', 8003, (fd) => [custom(ids(), fd, 4096, 0)], /customInfo\.size 4096 exceeds the 1024-byte buffer of fd \d+/],
    ['QURT descriptor', 8005, (fd) => [{ ...custom(ids(), fd, 1024, 0), htp: { type: 0, size: 1024n, fd, offset: 0n } }], /customInfo\.type 0 is not SHARED_BUFFER \(1\)/],
    ['DMA_BUF', 8005, (fd) => [{ dims: [1, 4], dataType: 0x32, memType: 3, fd }], /memDescriptors\[0\]\.memType 3 is not ION \(1\) or CUSTOM \(2\)/],
    ['no dims', 8004, (fd) => [{ ...custom(ids(), fd, 1024, 0), dims: null, numDim: 0 }], /memDescriptors\[0\]\.memShape: numDim 0 with dimSize 0x0 is not a shape/],
    ['zero dim', 8004, (fd) => [{ ...custom(ids(), fd, 1024, 0), dims: [1, 0] }], /memShape\.dimSize \[1,0\] has a zero dimension/],
    ['bad data type', 8000, (fd) => [{ ...custom(ids(), fd, 1024, 0), dataType: 0x999 }], /memDescriptors\[0\]\.dataType 0x999 is not a Qnn_DataType_t/],
    ['ION buffer too small', 8000, (fd) => [{ dims: [64, 64], dataType: 0x232, memType: 1, fd }], /the 16384-byte tensor does not fit the 1024-byte buffer of fd/],
    ['same region twice', 8002, (fd) => [custom(ids(), fd, 1024, 64), custom(ids(), fd, 1024, 64)], /memDescriptors\[1\]: fd \d+ offset 64 is already registered/],
    ['second of two descriptors bad', 8003, (fd) => [custom(ids(), fd, 1024, 0), custom(ids(), 9999, 1024, 0)], /memDescriptors\[1\]/],
  ];
  for (const [name, code, make, message] of cases) {
    it(`${name}: ${code}`, () => {
      const buffer = rpcmemAlloc(1024);
      const live = sim.liveHandles();
      expect(s.qnn.failure(register(make(toFd(buffer))).rc, code)).toMatch(message);
      expect(sim.liveHandles()).toBe(live);
      rpcmemFree(buffer);
    });
  }

  it('unknown context: 8001; NULL descriptors or zero count: 8000; deregistering a bogus handle: 8001', () => {
    const buffer = rpcmemAlloc(1024);
    const list = [custom(ids(), toFd(buffer), 1024, 0)];
    expect(s.qnn.failure(register(list, 0x10n).rc, 8001)).toMatch(/context 0x10 is not a live context handle/);
    const out = s.qnn.heap.alloc(8);
    const rc = s.qnn.call(CORE.memRegister, Proto.memRegister, s.context, NULL, 1, out.ptr);
    expect(s.qnn.failure(rc, 8000)).toMatch(/memDescriptors, numDescriptors \(1\) and memHandles must be non-NULL\/non-zero/);
    expect(s.qnn.failure(deregister([0x5n]), 8001)).toMatch(/memHandles\[0\] 0x5 is not a registered mem handle/);
    expect(s.qnn.failure(s.qnn.call(CORE.memDeRegister, Proto.ptrU32, NULL, 0), 8000)).toMatch(/numHandles \(0\)/);
    const { rc: ok, handles } = register(list);
    s.qnn.ok(ok);
    s.qnn.ok(deregister(handles));
    rpcmemFree(buffer);
  });
});

describe('propertyHasCapability', () => {
  it('ION and CUSTOM memory are supported, DMA_BUF and extended profile events are not, unknown keys are unknown', () => {
    const has = (key: number) => codeOf(s.qnn.call(CORE.propertyHasCapability, Proto.u32, key));
    expect([1101, 1102, 1103, 1401].map(has)).toEqual([0, 0, 0, 0]);
    expect([1104, 1404, 1002, 1201].map(has)).toEqual([1000, 1000, 1000, 1000]);
    expect(has(5555)).toBe(2000);
    expect(s.qnn.message(s.qnn.call(CORE.propertyHasCapability, Proto.u32, 5555))).toMatch(/property key 5555 is unknown/);
  });
});


import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ReferenceCtxBinPart } from '../../src/backends/reference/index.js';
import { createSimulatedQnn, type SimulatedQnn } from '../../src/simulator/index.js';
import { ctxBin, Session, tinyPart } from './fixtures.js';
import { codeOf, CORE, NULL, Proto, type Heap, type Ptr } from './raw-client.js';

let sim: SimulatedQnn;
let s: Session;
let bytes: Uint8Array;

beforeAll(async () => {
  sim = createSimulatedQnn();
  bytes = (await ctxBin('contexts')).bytes;
  s = await Session.open(sim, bytes);
});

afterAll(() => {
  s.close();
  expect(sim.liveHandles()).toBe(0);
  sim.dispose();
});

/** A `QnnContext_Config_t` (16 B: option @0, union @8) list. */
function contextConfigs(heap: Heap, entries: Array<(view: DataView) => void>): Ptr {
  return heap.list(
    entries.map((fill) => {
      const block = heap.alloc(16);
      fill(block.view);
      return block.ptr;
    }),
  );
}

/** A CUSTOM context config pointing at a `QnnHtpContext_CustomConfig_t` (24 B). */
function htpContextConfig(heap: Heap, option: number, firstGroupHandle: Ptr, maxSpillFill: bigint): (view: DataView) => void {
  const custom = heap.alloc(24);
  custom.view.setUint32(0, option, true);
  custom.view.setBigUint64(8, firstGroupHandle, true);
  custom.view.setBigUint64(16, maxSpillFill, true);
  return (view) => {
    view.setUint32(0, 0, true);
    view.setBigUint64(8, custom.ptr, true);
  };
}

function freeContext(handle: Ptr): void {
  s.qnn.ok(s.qnn.call(CORE.contextFree, Proto.ptr2, handle, NULL));
}

describe('contextCreateFromBinary configs', () => {
  it('spill-fill group registration, memory-limit hint, priority and persistent binary are decoded and recorded', () => {
    const { heap } = s.qnn;
    const head = s.createContext(
      contextConfigs(heap, [
        htpContextConfig(heap, 2, NULL, 1_000_000n),
        (v) => (v.setUint32(0, 6, true), v.setBigUint64(8, 123_456_789n, true)),
        (v) => (v.setUint32(0, 1, true), v.setUint32(8, 200, true)),
      ]),
    );
    const member = s.createContext(
      contextConfigs(heap, [htpContextConfig(heap, 2, head, 0n), (v) => (v.setUint32(0, 7, true), v.setUint8(8, 1))]),
    );
    const byHandle = new Map(sim.contexts().map((c) => [c.handle, c]));
    expect(byHandle.get(head)!.config).toEqual({
      priority: 200,
      memoryLimitHint: 123_456_789n,
      persistentBinary: false,
      enabledGraphs: undefined,
      spillFillGroup: { firstGroupHandle: NULL, maxSpillFillBuffer: 1_000_000n },
      htpOptions: [],
    });
    expect(byHandle.get(member)!.config).toMatchObject({
      persistentBinary: true,
      spillFillGroup: { firstGroupHandle: head, maxSpillFillBuffer: 0n },
    });
    expect(byHandle.get(member)!.binarySize).toBe(bytes.length);
    freeContext(member);
    freeContext(head);
  });

  it('without PERSISTENT_BINARY the binary is copied: the context runs after its buffer is overwritten', () => {
    const copy = s.qnn.heap.copy(bytes);
    const ctx = s.createContext(NULL, copy);
    copy.bytes.fill(0);
    const graph = s.qnn.create(CORE.graphRetrieve, Proto.ptr3, ctx, s.qnn.heap.cstr('token_ar1_cl16_1_of_1'));
    const ar1 = 'token_ar1_cl16_1_of_1';
    s.setIds(ar1, [7]);
    expect(codeOf(s.execute(ar1, undefined, undefined, { handle: graph }))).toBe(0);
    const logits = s.graph(ar1).buffers.get('logits')!.bytes.slice();
    expect(codeOf(s.execute(ar1))).toBe(0);
    expect(s.graph(ar1).buffers.get('logits')!.bytes).toEqual(logits);
    freeContext(ctx);
  });

  it('with PERSISTENT_BINARY the context keeps reading the caller memory (weights change with it)', () => {
    const copy = s.qnn.heap.copy(bytes);
    const ctx = s.createContext(contextConfigs(s.qnn.heap, [(v) => (v.setUint32(0, 7, true), v.setUint8(8, 1))]), copy);
    const graph = s.qnn.create(CORE.graphRetrieve, Proto.ptr3, ctx, s.qnn.heap.cstr('token_ar1_cl16_1_of_1'));
    const ar1 = 'token_ar1_cl16_1_of_1';
    s.setIds(ar1, [7]);
    expect(codeOf(s.execute(ar1, undefined, undefined, { handle: graph }))).toBe(0);
    const before = s.graph(ar1).buffers.get('logits')!.bytes.slice();
    const headerLength = Number(new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(0, true));
    copy.bytes.fill(0, 8 + headerLength);
    expect(codeOf(s.execute(ar1, undefined, undefined, { handle: graph }))).toBe(0);
    expect(s.graph(ar1).buffers.get('logits')!.bytes).not.toEqual(before);
    freeContext(ctx);
  });

  it('ENABLE_GRAPHS: only listed graphs can be retrieved; an unknown name fails creation', () => {
    const { heap } = s.qnn;
    const enable = (names: string[]) => contextConfigs(heap, [(v) => (v.setUint32(0, 5, true), v.setBigUint64(8, heap.list(names.map((n) => heap.cstr(n))), true))]);
    const ctx = s.createContext(enable(['token_ar1_cl16_1_of_1']));
    const out = heap.alloc(8);
    expect(codeOf(s.qnn.call(CORE.graphRetrieve, Proto.ptr3, ctx, heap.cstr('token_ar1_cl16_1_of_1'), out.ptr))).toBe(0);
    const rc = s.qnn.call(CORE.graphRetrieve, Proto.ptr3, ctx, heap.cstr('prompt_ar4_cl16_1_of_1'), out.ptr);
    expect(s.qnn.failure(rc, 6035)).toMatch(/graph "prompt_ar4_cl16_1_of_1" is not in the context's ENABLE_GRAPHS list/);
    freeContext(ctx);
    expect(s.qnn.failure(s.createContextRc(enable(['nope'])).rc, 5010)).toMatch(/ENABLE_GRAPHS names graph "nope", which the binary does not hold/);
  });

  const configCases: Array<[string, (heap: Heap) => Ptr, RegExp]> = [
    ['unknown option', (h) => contextConfigs(h, [(v) => v.setUint32(0, 99, true)]), /config\[0\]\.option 99 is not a QnnContext_ConfigOption_t/],
    ['bad priority', (h) => contextConfigs(h, [(v) => (v.setUint32(0, 1, true), v.setUint32(8, 7, true))]), /config\[0\] \(PRIORITY\) 7 is not a Qnn_Priority_t/],
    ['NULL custom config', (h) => contextConfigs(h, [(v) => v.setUint32(0, 0, true)]), /config\[0\]\.customConfig is NULL/],
    ['unknown HTP option', (h) => contextConfigs(h, [htpContextConfig(h, 42, NULL, 0n)]), /config\[0\]\.customConfig\.option 42 is not a QnnHtpContext_ConfigOption_t/],
    ['group head that is no context', (h) => contextConfigs(h, [htpContextConfig(h, 2, 0x5157n, 0n)]), /firstGroupHandle 0x5157 is not a live context/],
    ['new group with no spill-fill size', (h) => contextConfigs(h, [htpContextConfig(h, 2, NULL, 0n)]), /starts a group with maxSpillFillBuffer 0/],
    [
      'list without terminator',
      (h) => {
        const entry = h.alloc(16);
        entry.view.setUint32(0, 6, true);
        const list = h.alloc(65 * 8);
        for (let i = 0; i < 65; i++) list.view.setBigUint64(i * 8, entry.ptr, true);
        return list.ptr;
      },
      /config has no NULL terminator within 64 entries/,
    ],
  ];
  for (const [name, configs, message] of configCases) {
    it(`${name}: CONTEXT_INVALID_CONFIG (5010), no context created`, () => {
      const live = sim.liveHandles();
      expect(s.qnn.failure(s.createContextRc(configs(s.qnn.heap)).rc, 5010)).toMatch(message);
      expect(sim.liveHandles()).toBe(live);
    });
  }
});

describe('contextCreateFromBinary errors', () => {
  it('corrupt and truncated binaries: CREATE_FROM_BINARY (5005) with the reason', () => {
    const truncated = s.qnn.heap.copy(bytes.subarray(0, 1000));
    expect(s.qnn.failure(s.createContextRc(NULL, truncated).rc, 5005)).toMatch(/not a loadable context binary: reference ctx-bin "binary of 1000 bytes": safetensors file "binary of 1000 bytes": header length \d+ exceeds the file size 1000 \(or 100000000\)/);
    const garbage = s.qnn.heap.copy(new Uint8Array(64).fill(0xff));
    expect(s.qnn.failure(s.createContextRc(NULL, garbage).rc, 5005)).toMatch(/safetensors file "binary of 64 bytes": header length \d+ exceeds the file size 64 \(or 100000000\)/);
  });

  it('a binary whose metadata is not a reference ctx-bin: 5005 naming the key', async () => {
    const part = tinyPart();
    const broken: ReferenceCtxBinPart = { ...part, tensors: new Map([...part.tensors].filter(([name]) => !name.includes('layers.1.'))) };
    const { bytes: missing } = await ctxBin('contexts-missing-weights', broken);
    expect(s.qnn.failure(s.createContextRc(NULL, s.qnn.heap.copy(missing)).rc, 5005)).toMatch(/missing weight tensor "model\.layers\.1\./);
  });

  it('handles it never issued: CONTEXT_INVALID_HANDLE (5002); unknown profile: SET_PROFILE (5009); NULLs: 5000', () => {
    const out = s.qnn.heap.alloc(8);
    const call = (backend: Ptr, device: Ptr, buffer: Ptr, size: number, outPtr: Ptr, profile: Ptr) =>
      s.qnn.call(CORE.contextCreateFromBinary, Proto.createFromBinary, backend, device, NULL, buffer, size, outPtr, profile);
    const { ptr } = s.binary;
    expect(s.qnn.failure(call(0x99n, s.device, ptr, bytes.length, out.ptr, NULL), 5002)).toMatch(/backend 0x99 is not a live backend handle/);
    expect(s.qnn.failure(call(s.backend, s.backend, ptr, bytes.length, out.ptr, NULL), 5002)).toMatch(/device 0x[0-9a-f]+ is not a live device handle/);
    expect(s.qnn.failure(call(s.backend, s.device, ptr, bytes.length, out.ptr, 0x77n), 5009)).toMatch(/profile 0x77 is not a live profile handle/);
    expect(s.qnn.failure(call(s.backend, s.device, NULL, bytes.length, out.ptr, NULL), 5000)).toMatch(/binaryBuffer is NULL/);
    expect(s.qnn.failure(call(s.backend, s.device, ptr, 0, out.ptr, NULL), 5000)).toMatch(/binaryBufferSize 0 is not a binary size/);
    expect(s.qnn.failure(call(s.backend, s.device, ptr, bytes.length, NULL, NULL), 5000)).toMatch(/context out-pointer is NULL/);
    const ctx = s.createContext(NULL);
    expect(sim.contexts().find((c) => c.handle === ctx)!.device).toBe(s.device);
    freeContext(ctx);
  });

  it('contextFree of an unknown or freed context: 5002', () => {
    const ctx = s.createContext(NULL);
    freeContext(ctx);
    const rc = s.qnn.call(CORE.contextFree, Proto.ptr2, ctx, NULL);
    expect(s.qnn.failure(rc, 5002)).toMatch(/context 0x[0-9a-f]+ is not a live context handle/);
  });
});

describe('graphRetrieve', () => {
  it('unknown name: GRAPH_DOES_NOT_EXIST (6002) listing the graphs; bad context: 6039; NULL name: 6000', () => {
    const { heap } = s.qnn;
    const out = heap.alloc(8);
    const retrieve = (ctx: Ptr, name: Ptr) => s.qnn.call(CORE.graphRetrieve, Proto.ptr3, ctx, name, out.ptr);
    expect(s.qnn.failure(retrieve(s.context, heap.cstr('ar2_cl16')), 6002)).toMatch(
      /no graph "ar2_cl16" in context 0x[0-9a-f]+ \(graphs: token_ar1_cl16_1_of_1, prompt_ar4_cl16_1_of_1\)/,
    );
    expect(s.qnn.failure(retrieve(s.backend, heap.cstr('token_ar1_cl16_1_of_1')), 6039)).toMatch(/context 0x[0-9a-f]+ is not a live context handle/);
    expect(s.qnn.failure(retrieve(s.context, NULL), 6000)).toMatch(/graphName is NULL/);
  });

  it('retrieving a graph twice gives the same handle; the handle dies with its context', () => {
    const ctx = s.createContext(NULL);
    const name = s.qnn.heap.cstr('token_ar1_cl16_1_of_1');
    const first = s.qnn.create(CORE.graphRetrieve, Proto.ptr3, ctx, name);
    expect(s.qnn.create(CORE.graphRetrieve, Proto.ptr3, ctx, name)).toBe(first);
    freeContext(ctx);
    expect(codeOf(s.execute('token_ar1_cl16_1_of_1', undefined, undefined, { handle: first }))).toBe(6001);
  });
});

describe('quantized IO metadata', () => {
  it('execute checks quantizeParams of fixed-point tensors against the binary (6004) and accepts the exact ones', async () => {
    const part = tinyPart();
    const graphs = part.metadata.graphs.map((g) => ({
      ...g,
      inputs: g.inputs.map((t) =>
        t.name === 'attention_mask' ? { ...t, dtype: 'UFIXED_POINT_16' as const, encoding: { scale: 0.1, offset: -60000 } } : t,
      ),
    }));
    const { bytes: quantized } = await ctxBin('contexts-quantized', { ...part, metadata: { ...part.metadata, graphs } });
    const session = await Session.open(sim, quantized);
    const ar1 = 'token_ar1_cl16_1_of_1';
    const inputs = session.wire(ar1, 'inputs');
    const mask = inputs.findIndex((t) => t.name === 'attention_mask');
    expect(inputs[mask].quant).toEqual({ definition: 1, encoding: 0, scale: Math.fround(0.1), offset: -60000 });
    expect(codeOf(session.execute(ar1, inputs))).toBe(0);
    inputs[mask].quant = { ...inputs[mask].quant!, scale: 0.2 };
    expect(session.qnn.failure(session.execute(ar1, inputs), 6004)).toMatch(
      /inputs\[\d+\] \("attention_mask"\)\.quantizeParams \{definition 1, encoding 0, scale 0\.2\d*, offset -60000\} are not DEFINED SCALE_OFFSET \{scale 0\.1, offset -60000\}/,
    );
    session.close();
  });
});

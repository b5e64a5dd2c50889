import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSimulatedQnn, type SimulatedQnn } from '../../src/simulator/index.js';
import { ctxBin, Session } from './fixtures.js';
import { codeOf, encodeTensors, NULL, T, TENSOR_STRIDE, type WireTensorSpec } from './raw-client.js';

let sim: SimulatedQnn;
let s: Session;
let AR4: string;

beforeAll(async () => {
  sim = createSimulatedQnn();
  s = await Session.open(sim, (await ctxBin('execute')).bytes);
  AR4 = s.names.find((n) => n.includes('ar4'))!;
  s.setIds(AR4, [1, 2, 3, 4]);
});

afterAll(() => {
  s.close();
  expect(sim.liveHandles()).toBe(0);
  sim.dispose();
});

/** The graph still executes correctly after a failure. */
function expectUsable(): void {
  expect(codeOf(s.execute(AR4))).toBe(0);
}

type Mutation = (inputs: WireTensorSpec[], outputs: WireTensorSpec[]) => void;

const tensorCases: Array<[string, Mutation, RegExp]> = [
  ['bad struct version', (i) => (i[0].version = 3), /inputs\[0\]\.version 3 is not QNN_TENSOR_VERSION_1 \(1\) or _2 \(2\)/],
  ['unknown tensor id', (i) => (i[1].id = 9999), /inputs\[1\]\.id 9999 is not one of the inputs of graph "prompt_ar4_cl16_1_of_1"/],
  ['an output id among the inputs', (i, o) => (i[0].id = o[0].id), /inputs\[0\]\.id \d+ is not one of the inputs .* \(it is one of its outputs\)/],
  ['a tensor id twice', (i) => (i[2].id = i[1].id), /inputs\[2\]\.id \d+ appears twice in inputs/],
  ['wrong name', (i) => (i[0].name = 'input_idz'), /inputs\[0\] \(id \d+\)\.name "input_idz" is not "input_ids"/],
  ['NULL name', (i) => (i[0].name = null), /inputs\[0\] \(id \d+\)\.name is NULL/],
  ['wrong type', (i) => (i[0].type = 1), /inputs\[0\] \("input_ids"\)\.type 1 is not 0/],
  ['sparse data format', (i) => (i[0].dataFormat = 1), /inputs\[0\] \("input_ids"\)\.dataFormat 1 is not DENSE \(0\)/],
  ['wrong dtype', (i) => (i[0].dataType = 0x0216), /inputs\[0\] \("input_ids"\)\.dataType 0x0216 is not 0x0032 \(INT_32\)/],
  ['wrong rank', (i) => (i[0].dims = [1, 4, 1]), /inputs\[0\] \("input_ids"\)\.rank 3 is not 2/],
  ['wrong dims', (i) => (i[0].dims = [1, 5]), /inputs\[0\] \("input_ids"\)\.dimensions \[1,5\] are not \[1,4\]/],
  ['NULL dims', (i) => ((i[0].dims = null), (i[0].rank = 2)), /inputs\[0\] \("input_ids"\)\.dimensions is NULL/],
  [
    'client buffer too small',
    (i) => (i[0].dataSize = 15),
    /inputs\[0\] \("input_ids"\)\.clientBuf\.dataSize 15 is smaller than the 16 bytes of INT_32 \[1,4\]/,
  ],
  ['NULL client buffer', (i) => (i[0].data = NULL), /inputs\[0\] \("input_ids"\)\.clientBuf\.data is NULL/],
  ['misaligned client buffer', (i) => (i[0].data = i[0].data! + 2n), /inputs\[0\] \("input_ids"\)\.clientBuf\.data 0x[0-9a-f]+ is not aligned to 4 bytes/],
  ['unsupported memType', (i) => (i[0].memType = 2), /inputs\[0\] \("input_ids"\)\.memType 2 is not RAW \(0\) or MEMHANDLE \(1\)/],
  ['unknown mem handle', (i) => ((i[0].memType = 1), (i[0].memHandle = 0x1234n)), /inputs\[0\] \("input_ids"\)\.memHandle 0x1234 is not a registered mem handle/],
  ['output buffer too small', (_, o) => (o[0].dataSize = 8), /outputs\[0\] \("[^"]+"\)\.clientBuf\.dataSize 8 is smaller than the \d+ bytes/],
];

describe('graphExecute validates every tensor: GRAPH_INVALID_TENSOR (6004) naming tensor and field', () => {
  for (const [name, mutate, message] of tensorCases) {
    it(name, () => {
      const inputs = s.wire(AR4, 'inputs');
      const outputs = s.wire(AR4, 'outputs');
      mutate(inputs, outputs);
      const rc = s.execute(AR4, inputs, outputs);
      expect(s.qnn.failure(rc, 6004)).toMatch(message);
      expectUsable();
    });
  }

  it('a dimension flagged dynamic in a V2 tensor', () => {
    const inputs = s.wire(AR4, 'inputs');
    const flags = s.qnn.heap.alloc(2);
    flags.bytes[1] = 1;
    inputs[0].isDynamicDimensions = flags.ptr;
    expect(s.qnn.failure(s.execute(AR4, inputs), 6004)).toMatch(/inputs\[0\] \("input_ids"\)\.isDynamicDimensions marks dimension 1 dynamic/);
    flags.bytes[1] = 0;
    expect(codeOf(s.execute(AR4, inputs))).toBe(0);
  });

  it('V1 tensors (no V2 fields) are accepted, in any order', () => {
    const inputs = s.wire(AR4, 'inputs').map((t) => ({ ...t, version: 1 })).reverse();
    const outputs = s.wire(AR4, 'outputs').reverse();
    expect(codeOf(s.execute(AR4, inputs, outputs))).toBe(0);
  });
});

describe('graphExecute arguments', () => {
  it('wrong tensor counts, NULL arrays: GRAPH_INVALID_ARGUMENT (6000)', () => {
    const inputs = encodeTensors(s.qnn.heap, s.wire(AR4, 'inputs'));
    const outputs = encodeTensors(s.qnn.heap, s.wire(AR4, 'outputs'));
    const n = s.graph(AR4).meta.inputs.length;
    expect(s.qnn.failure(s.executeEncoded(AR4, inputs.ptr, outputs.ptr, { numInputs: n - 1 }), 6000)).toMatch(
      new RegExp(`numInputs ${n - 1}: graph "${AR4}" has ${n} inputs`),
    );
    expect(s.qnn.failure(s.executeEncoded(AR4, inputs.ptr, outputs.ptr, { numOutputs: 0 }), 6000)).toMatch(/numOutputs 0/);
    expect(s.qnn.failure(s.executeEncoded(AR4, NULL, outputs.ptr), 6000)).toMatch(new RegExp(`inputs is NULL with ${n} tensors`));
    expect(s.qnn.failure(s.executeEncoded(AR4, inputs.ptr, outputs.ptr, { signal: 0x40n }), 6000)).toMatch(/signal 0x40 is not a signal handle/);
    expect(codeOf(s.executeEncoded(AR4, inputs.ptr, outputs.ptr))).toBe(0);
  });

  it('a graph handle never issued: GRAPH_INVALID_HANDLE (6001); an unknown profile: GRAPH_SET_PROFILE (6006)', () => {
    expect(s.qnn.failure(s.execute(AR4, undefined, undefined, { handle: 0xdeadn }), 6001)).toMatch(/graph 0xdead is not a live graph handle/);
    expect(s.qnn.failure(s.execute(AR4, undefined, undefined, { profile: 0xbeefn }), 6006)).toMatch(/profile 0xbeef is not a live profile handle/);
    expectUsable();
  });

  it('the cached decode is redone when a struct byte changes in place', () => {
    const inputs = encodeTensors(s.qnn.heap, s.wire(AR4, 'inputs'));
    const outputs = encodeTensors(s.qnn.heap, s.wire(AR4, 'outputs'));
    expect(codeOf(s.executeEncoded(AR4, inputs.ptr, outputs.ptr))).toBe(0);
    expect(codeOf(s.executeEncoded(AR4, inputs.ptr, outputs.ptr))).toBe(0);
    const size = inputs.view.getUint32(T.dataSize, true);
    inputs.view.setUint32(T.dataSize, 4, true);
    expect(s.qnn.failure(s.executeEncoded(AR4, inputs.ptr, outputs.ptr), 6004)).toMatch(/clientBuf\.dataSize 4 is smaller/);
    inputs.view.setUint32(T.dataSize, size, true);
    outputs.view.setUint32(TENSOR_STRIDE + T.id, 777, true);
    expect(s.qnn.failure(s.executeEncoded(AR4, inputs.ptr, outputs.ptr), 6004)).toMatch(/outputs\[1\]\.id 777/);
  });

  it('a token id outside the vocabulary fails the run with COMMON_ERROR_GENERAL (1100)', () => {
    s.setIds(AR4, [1, 2, 100, 4]);
    expect(s.qnn.failure(s.execute(AR4), 1100)).toMatch(/graph "prompt_ar4_cl16_1_of_1" failed while executing: .*input_ids\[2\] = 100 is outside the vocabulary \[0, 100\)/);
    s.setIds(AR4, [1, 2, 3, 4]);
    expectUsable();
  });

  it('error handles carry a tracking number above the low 16 bits; errorGetMessage knows each one', () => {
    const a = s.execute(AR4, undefined, undefined, { handle: 0x1n });
    const b = s.execute(AR4, undefined, undefined, { handle: 0x2n });
    expect(codeOf(a)).toBe(6001);
    expect(codeOf(b)).toBe(6001);
    expect(a).toBeGreaterThan(0xffff);
    expect(b).not.toBe(a);
    expect(s.qnn.message(a)).toMatch(/graph 0x1 is not/);
    expect(s.qnn.message(b)).toMatch(/graph 0x2 is not/);
    expect(s.qnn.message(6002)).toBe('QNN error 6002 (GRAPH_DOES_NOT_EXIST)');
    expect(s.qnn.message(0)).toBe('success');
  });
});

describe('failExecute test hook', () => {
  it('fails graphExecute of the named graph with the code after validating; other graphs run', async () => {
    const hooked = createSimulatedQnn({ failExecute: { graph: 'prompt_ar4_cl16_1_of_1', code: 6031 } });
    const session = await Session.open(hooked, (await ctxBin('fail-execute')).bytes);
    const ar1 = session.names.find((n) => n.includes('ar1'))!;
    session.setIds('prompt_ar4_cl16_1_of_1', [1, 2, 3, 4]);
    expect(session.qnn.failure(session.execute('prompt_ar4_cl16_1_of_1'), 6031)).toMatch(
      /graph "prompt_ar4_cl16_1_of_1" fails with 6031 \(failExecute test hook\)/,
    );
    const bad = session.wire('prompt_ar4_cl16_1_of_1', 'inputs');
    bad[0].dataSize = 0;
    expect(codeOf(session.execute('prompt_ar4_cl16_1_of_1', bad))).toBe(6004);
    expect(codeOf(session.execute(ar1))).toBe(0);
    session.close();
    hooked.dispose();
  });
});

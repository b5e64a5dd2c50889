/**
 * decodeBinaryInfo against binary info laid out by hand at the documented absolute offsets
 * (docs/qnn-abi.md#tensor-structs, BinaryInfo V1/V2/V3 in docs/qnn-abi.md#binary-info, GraphInfo
 * and its stride rule in docs/qnn-abi.md#graph-info-and-its-stride).
 */
import { describe, expect, it } from 'vitest';
import koffi from 'koffi';
import {
  QnnContextBinaryError,
  QnnSystemApi,
  decodeBinaryInfo,
  providerSourceFromPointers,
  readBinaryInfo,
  selectSystemProvider,
} from '../../../src/qnn/binding/index.js';
import { QnnDataType } from '../../../src/tensor/dtype.js';
import { rawBlock, rawString, rawU32s } from './raw-memory.js';

interface RawTensor {
  id: number;
  name: string;
  type: number;
  dataType: number;
  dims: number[];
  quant?: { definition: number; encoding: number; scale?: number; offset?: number; bitwidth?: number };
  version?: number;
}

/** An array of Qnn_Tensor_t (stride 144) at the absolute offsets of docs/qnn-abi.md#tensor-structs. */
function rawTensors(tensors: RawTensor[]): bigint {
  const block = rawBlock(144 * tensors.length, 0xcd);
  tensors.forEach((t, i) => {
    const b = 144 * i;
    block.u32(b + 0, t.version ?? 2).u32(b + 8, t.id).ptrAt(b + 16, rawString(t.name)).u32(b + 24, t.type).u32(b + 28, 0);
    block.u32(b + 32, t.dataType);
    const q = t.quant ?? { definition: 0x7fffffff, encoding: 0x7fffffff };
    block.u32(b + 40, q.definition).u32(b + 44, q.encoding);
    if (q.encoding === 2) block.u32(b + 48, q.bitwidth ?? 0).f32(b + 52, q.scale ?? 0).i32(b + 56, q.offset ?? 0);
    else block.f32(b + 48, q.scale ?? 0).i32(b + 52, q.offset ?? 0);
    block.u32(b + 80, t.dims.length).ptrAt(b + 88, rawU32s(t.dims)).u32(b + 96, 0).ptrAt(b + 104, null).u32(b + 112, 0);
  });
  return block.ptr;
}

interface RawGraph {
  name: string;
  inputs: RawTensor[];
  outputs: RawTensor[];
  version: number;
}

/**
 * A GraphInfo array at `stride`, fields at the absolute offsets of
 * docs/qnn-abi.md#graph-info-and-its-stride (union at 8).
 */
function rawGraphs(graphs: RawGraph[], stride: number): bigint {
  const block = rawBlock(stride * graphs.length);
  graphs.forEach((g, i) => {
    const b = stride * i;
    block.u32(b, g.version).ptrAt(b + 8, rawString(g.name));
    block.u32(b + 16, g.inputs.length).ptrAt(b + 24, g.inputs.length ? rawTensors(g.inputs) : null);
    block.u32(b + 32, g.outputs.length).ptrAt(b + 40, rawTensors(g.outputs));
  });
  return block.ptr;
}

/**
 * A QnnSystemContext_BinaryInfo_t (144 B) of `version`, numGraphs/graphs at the offsets of
 * docs/qnn-abi.md#binary-info.
 */
function rawBinaryInfo(version: number, graphs: bigint, numGraphs: number): bigint {
  const block = rawBlock(144, 0xee);
  block.u32(0, version).u32(8, 6).ptrAt(16, rawString('v2.43.0.test')).u32(24, 2).u32(28, 32).u32(32, 0);
  block.ptrAt(48, rawString('v75'));
  if (version === 3) block.u32(96, numGraphs).ptrAt(104, graphs);
  else block.u32(120, numGraphs).ptrAt(128, graphs);
  return block.ptr;
}

const uint8Kv: RawTensor = {
  id: 11,
  name: 'past_key_0_out',
  type: 1,
  dataType: QnnDataType.UFIXED_POINT_8,
  dims: [2, 1, 8, 4],
  quant: { definition: 1, encoding: 0, scale: 0.015625, offset: -128 },
};
const ids: RawTensor = { id: 3, name: 'input_ids', type: 0, dataType: QnnDataType.INT_32, dims: [1, 4] };
const logits: RawTensor = {
  id: 40,
  name: 'logits',
  type: 1,
  dataType: QnnDataType.UFIXED_POINT_16,
  dims: [1, 4, 32],
  quant: { definition: 1, encoding: 2, bitwidth: 16, scale: 0.25, offset: -30000 },
};

const twoGraphs = (version: number): RawGraph[] => [
  { name: 'prompt_ar4_cl16_1_of_1', version, inputs: [ids], outputs: [uint8Kv, logits] },
  { name: 'token_ar1_cl16_1_of_1', version, inputs: [{ ...ids, id: 4, dims: [1, 1] }], outputs: [logits] },
];

describe('decodeBinaryInfo', () => {
  it('reads BinaryInfo V3 with the 88-byte GraphInfo stride of core API >= 2.21', () => {
    const info = decodeBinaryInfo(rawBinaryInfo(3, rawGraphs(twoGraphs(3), 88), 2), 32, 'model.bin');
    expect(info).toMatchObject({ version: 3, backendId: 6, buildId: 'v2.43.0.test', socVersion: 'v75' });
    expect(info.coreApiVersion).toEqual({ major: 2, minor: 32, patch: 0 });
    expect(info.graphs.map((g) => g.name)).toEqual(['prompt_ar4_cl16_1_of_1', 'token_ar1_cl16_1_of_1']);
    const [prompt, token] = info.graphs;
    expect(prompt.inputs).toEqual([
      { id: 3, name: 'input_ids', type: 0, dataFormat: 0, dataType: 0x32, quantization: { definition: 0x7fffffff, encoding: 0x7fffffff }, dims: [1, 4] },
    ]);
    expect(prompt.outputs[0]).toEqual({
      id: 11,
      name: 'past_key_0_out',
      type: 1,
      dataFormat: 0,
      dataType: 0x408,
      quantization: { definition: 1, encoding: 0, scaleOffset: { scale: 0.015625, offset: -128 } },
      dims: [2, 1, 8, 4],
    });
    expect(prompt.outputs[1].quantization).toEqual({ definition: 1, encoding: 2, scaleOffset: { scale: 0.25, offset: -30000, bitwidth: 16 } });
    expect(token.inputs[0]).toMatchObject({ id: 4, dims: [1, 1] });
  });

  it('reads V1 with the 48-byte stride (core API 2.14-2.16) and V2 with 64 bytes (2.17-2.20)', () => {
    const v1 = decodeBinaryInfo(rawBinaryInfo(1, rawGraphs(twoGraphs(1), 48), 2), 14, 'a.bin');
    expect(v1.graphs.map((g) => g.name)).toEqual(['prompt_ar4_cl16_1_of_1', 'token_ar1_cl16_1_of_1']);
    expect(v1.graphs[1].outputs[0].name).toBe('logits');
    const v2 = decodeBinaryInfo(rawBinaryInfo(2, rawGraphs(twoGraphs(2), 64), 2), 17, 'b.bin');
    expect(v2.graphs[1].inputs[0]).toMatchObject({ name: 'input_ids', id: 4 });
  });

  it('falls back to the stride whose elements look like GraphInfos when the minor suggests another', () => {
    const info = decodeBinaryInfo(rawBinaryInfo(3, rawGraphs([...twoGraphs(3), { ...twoGraphs(3)[1], name: 'third' }], 88), 3), 14, 'c.bin');
    expect(info.graphs.map((g) => g.name)).toEqual(['prompt_ar4_cl16_1_of_1', 'token_ar1_cl16_1_of_1', 'third']);
  });

  it('rejects unknown versions, per-axis IO encodings and NULL arrays, naming file, graph and tensor', () => {
    expect(() => decodeBinaryInfo(rawBinaryInfo(7, 0n, 0), 32, 'x.bin')).toThrow(QnnContextBinaryError);
    expect(() => decodeBinaryInfo(rawBinaryInfo(7, 0n, 0), 32, 'x.bin')).toThrow('context binary "x.bin": unknown BinaryInfo version 7');
    const axis: RawTensor = { ...uint8Kv, quant: { definition: 1, encoding: 1 } };
    const graphs = rawGraphs([{ name: 'g', version: 3, inputs: [ids], outputs: [axis] }], 88);
    expect(() => decodeBinaryInfo(rawBinaryInfo(3, graphs, 1), 32, 'y.bin')).toThrow(
      'context binary "y.bin": graph "g" output 0 "past_key_0_out": quantization encoding AXIS_SCALE_OFFSET is not supported for graph IO (only SCALE_OFFSET and BW_SCALE_OFFSET)',
    );
    const badTensor = rawGraphs([{ name: 'g', version: 3, inputs: [{ ...ids, version: 5 }], outputs: [logits] }], 88);
    expect(() => decodeBinaryInfo(rawBinaryInfo(3, badTensor, 1), 32, 'z.bin')).toThrow(
      'context binary "z.bin": graph "g" input 0: unknown Qnn_Tensor_t version 5',
    );
    expect(() => decodeBinaryInfo(rawBinaryInfo(3, 0n, 2), 32, 'n.bin')).toThrow('context binary "n.bin": 2 graphs but a NULL graph array');
  });
});

describe('readBinaryInfo through a QnnSystem table', () => {
  /**
   * A hand-made QnnSystemInterface_t (system API 1.1, table at 32) whose getMetaData slot (2) is
   * NULL: the binding must fall back to getBinaryInfo (slot 1) and free the system context (slot 3).
   */
  it('uses the deprecated getBinaryInfo when getMetaData is NULL, and frees the system context', () => {
    const calls: string[] = [];
    const info = rawBinaryInfo(3, rawGraphs(twoGraphs(3), 88), 2);
    const sysCtx = 0x5150n;
    const qnn = (args: string[]) => koffi.pointer(koffi.proto(null, 'uint64_t', args));
    const registered: bigint[] = [];
    const register = (fn: (...args: never[]) => number, args: string[]) => {
      const ptr = koffi.register(fn, qnn(args)) as bigint;
      registered.push(ptr);
      return ptr;
    };
    const system = rawBlock(32 + 4 * 8);
    system.u32(0, 0).ptrAt(8, rawString('SYSTEM_TEST')).u32(16, 1).u32(20, 1).u32(24, 0);
    system.ptrAt(32, register((out: bigint) => (calls.push('create'), koffi.encode(out, 'void *', sysCtx), 0), ['void *']));
    system.ptrAt(40, register((ctx: bigint, buf: bigint, size: number, out: bigint, outSize: bigint) => {
      calls.push(`getBinaryInfo(${ctx === sysCtx}, ${size})`);
      koffi.encode(out, 'void *', info);
      koffi.encode(outSize, 'uint64_t', 144);
      return 0;
    }, ['void *', 'void *', 'uint64_t', 'void *', 'void *']));
    system.ptrAt(48, null);
    system.ptrAt(56, register((ctx: bigint) => (calls.push(`free(${ctx === sysCtx})`), 0), ['void *']));
    const list = rawBlock(8).ptrAt(0, system.ptr);
    const getProviders = register((out: bigint, n: bigint) => {
      koffi.encode(out, 'void *', list.ptr);
      koffi.encode(n, 'uint32_t', 1);
      return 0;
    }, ['void *', 'void *']);
    try {
      const source = providerSourceFromPointers('test', getProviders, getProviders);
      const api = new QnnSystemApi(selectSystemProvider(source));
      expect(api.has('systemContextGetMetaData')).toBe(false);
      const binary = rawBlock(64);
      const decoded = readBinaryInfo(api, binary.ptr, 64, 32, 'legacy.bin');
      expect(decoded.graphs.map((g) => g.name)).toEqual(['prompt_ar4_cl16_1_of_1', 'token_ar1_cl16_1_of_1']);
      expect(calls).toEqual(['create', 'getBinaryInfo(true, 64)', 'free(true)']);
      expect(() => api.fn('systemContextGetMetaData')).toThrow(
        'QNN function systemContextGetMetaData is not supported by this backend (SYSTEM_TEST): its table slot 2 is NULL in system API 1.1.0',
      );
    } finally {
      registered.forEach((ptr) => koffi.unregister(ptr));
    }
  });
});

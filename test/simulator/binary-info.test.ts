import { describe, expect, it } from 'vitest';
import { openReferenceBackend, type ReferenceCtxBinPart } from '../../src/backends/reference/index.js';
import { createSimulatedQnn, type SimulatedQnnOptions } from '../../src/simulator/index.js';
import { byteSize, dataTypeName, QnnDataType, type DataTypeName } from '../../src/tensor/dtype.js';
import { readBinaryInfo, readPlatformInfo } from './binary-info-reader.js';
import { ctxBin, tinyPart } from './fixtures.js';
import { codeOf, NULL, Proto, RawQnn, SYSTEM, type Ptr } from './raw-client.js';

interface Answer {
  readonly qnn: RawQnn;
  readonly sys: Ptr;
  readonly info: Ptr;
  readonly infoSize: bigint;
}

function binaryInfo(options: SimulatedQnnOptions, bytes: Uint8Array): Answer & { dispose(): void } {
  const sim = createSimulatedQnn(options);
  const qnn = new RawQnn(sim);
  const binary = qnn.heap.copy(bytes);
  const sysOut = qnn.heap.alloc(8);
  qnn.ok(qnn.callSystem(SYSTEM.create, Proto.ptr, sysOut.ptr));
  const sys = sysOut.view.getBigUint64(0, true);
  const infoOut = qnn.heap.alloc(8);
  const sizeOut = qnn.heap.alloc(8);
  qnn.ok(qnn.callSystem(SYSTEM.getBinaryInfo, Proto.getBinaryInfo, sys, binary.ptr, bytes.length, infoOut.ptr, sizeOut.ptr));
  return {
    qnn,
    sys,
    info: infoOut.view.getBigUint64(0, true),
    infoSize: sizeOut.view.getBigUint64(0, true),
    dispose: () => {
      qnn.ok(qnn.callSystem(SYSTEM.free, Proto.ptr, sys));
      expect(sim.liveHandles()).toBe(0);
      qnn.dispose();
      sim.dispose();
    },
  };
}

/** The part with a UFIXED_POINT_16 attention mask, so quant params show up in the metadata. */
function quantizedPart(): ReferenceCtxBinPart {
  const part = tinyPart();
  const graphs = part.metadata.graphs.map((g) => ({
    ...g,
    inputs: g.inputs.map((t) =>
      t.name === 'attention_mask' ? { ...t, dtype: 'UFIXED_POINT_16' as const, encoding: { scale: 0.125, offset: -7 } } : t,
    ),
  }));
  return { ...part, metadata: { ...part.metadata, graphs } };
}

const ioBytes = (tensors: readonly { shape?: readonly number[]; dims?: readonly number[]; dataType?: number; dtype?: DataTypeName }[]): number =>
  tensors.reduce(
    (sum, t) => sum + (t.shape ?? t.dims)!.reduce((a, b) => a * b, 1) * byteSize(t.dtype ?? dataTypeName(t.dataType!)),
    0,
  );

describe('systemContextGetBinaryInfo layouts', () => {
  it('default (core API 2.32): BinaryInfo V3, GraphInfo V3 at stride 88, tensors as the Reference backend lists them', async () => {
    const { path, bytes } = await ctxBin('info-v3', quantizedPart());
    const answer = binaryInfo({}, bytes);
    const info = readBinaryInfo(answer.info, 88);
    expect(info).toMatchObject({
      version: 3,
      backendId: 6,
      buildId: 'v2.43.0.genie-ts-simulated',
      core: [2, 32, 0],
      backendApi: [5, 43, 0],
      socVersion: 'V75',
      contextBlobVersion: [3, 3, 4],
      contextBlobSize: BigInt(bytes.length),
      numContextTensors: 0,
      socModel: 57,
    });
    expect(answer.infoSize).toBeGreaterThan(144n);
    expect(readPlatformInfo(info.platformInfo)).toEqual({ version: 1, numHwDevices: 1, numCores: 1, socModel: 57, arch: 75, vtcmSize: 8n });

    const reference = await openReferenceBackend([path]);
    expect(info.graphs.map((g) => g.name)).toEqual(reference.graphs.map((g) => g.name));
    const ids = new Set<number>();
    info.graphs.forEach((graph, g) => {
      const spec = reference.graphs[g];
      expect(graph.version).toBe(3);
      expect(graph.numUpdateable).toBe(0);
      for (const [side, type] of [['inputs', 0], ['outputs', 1]] as const) {
        expect(graph[side].map((t) => [t.name, t.dims, t.dataType, t.type])).toEqual(
          spec[side].map((t) => [t.name, t.shape, QnnDataType[t.dtype], type]),
        );
        for (const t of graph[side]) {
          expect(ids.has(t.id)).toBe(false);
          ids.add(t.id);
          expect(t).toMatchObject({ version: 2, dataFormat: 0, memType: 0, data: NULL, isDynamicDimensions: NULL, sparseType: 0x7fffffff });
          const encoding = spec[side].find((s) => s.name === t.name)!.encoding;
          expect(t.quant).toEqual(
            encoding === undefined
              ? { definition: 0x7fffffff, encoding: 0x7fffffff, scale: 0, offset: 0 }
              : { definition: 1, encoding: 0, scale: 0.125, offset: -7 },
          );
        }
      }
      expect(graph.blob).toEqual({ size: 40, version: 1, spillFill: BigInt(ioBytes([...spec.inputs, ...spec.outputs])), vtcm: 8 });
    });
    await reference.dispose();
    answer.dispose();
  });

  it('core API 2.20: BinaryInfo V2 with platform info and hardware blob, GraphInfo V2 at stride 64', async () => {
    const { bytes } = await ctxBin('info-v2');
    const answer = binaryInfo({ coreApiVersion: { major: 2, minor: 20, patch: 0 } }, bytes);
    const info = readBinaryInfo(answer.info, 64);
    expect(info).toMatchObject({ version: 2, buildId: 'v2.27.0.genie-ts-simulated', backendApi: [5, 27, 0], contextBlobVersion: [3, 3, 4] });
    // input_ids, attention_mask, cos, sin and K/V in for 2 layers.
    expect(info.graphs.map((g) => [g.version, g.inputs.length, g.numUpdateable])).toEqual([
      [2, 8, 0],
      [2, 8, 0],
    ]);
    expect(readPlatformInfo(info.platformInfo).arch).toBe(75);
    const maxIo = Math.max(...info.graphs.map((g) => ioBytes([...g.inputs, ...g.outputs])));
    expect(info.hwBlob).toEqual({ size: 24, version: 1, spillFill: BigInt(maxIo) });
    answer.dispose();
  });

  it('core API 2.16: BinaryInfo V1, GraphInfo V1 at stride 48', async () => {
    const { bytes } = await ctxBin('info-v1');
    const answer = binaryInfo({ coreApiVersion: { major: 2, minor: 16, patch: 0 } }, bytes);
    const info = readBinaryInfo(answer.info, 48);
    expect(info.version).toBe(1);
    expect(info.platformInfo).toBe(NULL);
    expect(info.graphs.map((g) => g.version)).toEqual([1, 1]);
    expect(info.graphs[1].outputs.map((t) => t.name)).toContain('logits');
    answer.dispose();
  });

  it('the stride follows the SDK, not the element version: GraphInfo V1 elements 88 bytes apart at core API 2.32', async () => {
    const { bytes } = await ctxBin('info-v1-in-88');
    const answer = binaryInfo({ binaryInfoVersion: 2, graphInfoVersion: 1 }, bytes);
    const info = readBinaryInfo(answer.info, 88);
    expect(info.version).toBe(2);
    expect(info.graphs.map((g) => [g.version, g.name.includes('ar1') ? 1 : 4])).toEqual([
      [1, 1],
      [1, 4],
    ]);
    answer.dispose();
  });

  it('getMetaData answers the same info; each answer stays valid until systemContextFree', async () => {
    const { bytes } = await ctxBin('info-meta');
    const answer = binaryInfo({}, bytes);
    const { qnn, sys } = answer;
    const binary = qnn.heap.copy(bytes);
    const out = qnn.heap.alloc(8);
    qnn.ok(qnn.callSystem(SYSTEM.getMetaData, Proto.getMetaData, sys, binary.ptr, bytes.length, out.ptr));
    const second = out.view.getBigUint64(0, true);
    expect(second).not.toBe(answer.info);
    const { platformInfo: p2, ...rest2 } = readBinaryInfo(second, 88);
    const { platformInfo: p1, ...rest1 } = readBinaryInfo(answer.info, 88);
    expect(rest2).toEqual(rest1);
    expect(readPlatformInfo(p2)).toEqual(readPlatformInfo(p1));
    answer.dispose();
  });
});

describe('system context errors', () => {
  it('corrupt, truncated or foreign binaries: MALFORMED_BINARY (30010) naming the problem; the handle stays usable', async () => {
    const { bytes } = await ctxBin('info-errors');
    const answer = binaryInfo({}, bytes);
    const { qnn, sys } = answer;
    const out = qnn.heap.alloc(8);
    const call = (data: Uint8Array): number => {
      const block = qnn.heap.copy(data);
      return qnn.callSystem(SYSTEM.getMetaData, Proto.getMetaData, sys, block.ptr, data.length, out.ptr);
    };
    expect(qnn.failure(call(bytes.subarray(0, 5)), 30010)).toMatch(/safetensors file "binary of 5 bytes" is 5 bytes, too short for a header/);
    expect(qnn.failure(call(bytes.subarray(0, bytes.length - 100)), 30010)).toMatch(/data_offsets \[\d+, \d+\] exceed the data section of \d+ bytes/);
    const garbage = bytes.slice();
    garbage.fill(0x7b, 8, 20);
    expect(qnn.failure(call(garbage), 30010)).toMatch(/header is not valid JSON/);
    const header = new TextEncoder().encode('{"__metadata__":{"other":"x"}}');
    const foreign = new Uint8Array(8 + header.length);
    new DataView(foreign.buffer).setBigUint64(0, BigInt(header.length), true);
    foreign.set(header, 8);
    expect(qnn.failure(call(foreign), 30010)).toMatch(/__metadata__ has no "genie-ts" entry/);
    expect(codeOf(call(bytes))).toBe(0);
    answer.dispose();
  });

  it('NULL buffer, zero size, NULL out-pointers: INVALID_ARGUMENT (30001); unknown handle: INVALID_HANDLE (30000)', async () => {
    const { bytes } = await ctxBin('info-args');
    const answer = binaryInfo({}, bytes);
    const { qnn, sys } = answer;
    const binary = qnn.heap.copy(bytes);
    const out = qnn.heap.alloc(8);
    const meta = (handle: Ptr, buffer: Ptr, size: number, info: Ptr) =>
      qnn.callSystem(SYSTEM.getMetaData, Proto.getMetaData, handle, buffer, size, info);
    expect(qnn.failure(meta(sys, NULL, bytes.length, out.ptr), 30001)).toMatch(/binaryBuffer is NULL/);
    expect(qnn.failure(meta(sys, binary.ptr, 0, out.ptr), 30001)).toMatch(/binaryBufferSize 0/);
    expect(qnn.failure(meta(sys, binary.ptr, bytes.length, NULL), 30001)).toMatch(/binaryInfo out-pointer is NULL/);
    const info = qnn.callSystem(SYSTEM.getBinaryInfo, Proto.getBinaryInfo, sys, binary.ptr, bytes.length, out.ptr, NULL);
    expect(qnn.failure(info, 30001)).toMatch(/binaryInfoSize out-pointer is NULL/);
    expect(qnn.failure(meta(sys + 1n, binary.ptr, bytes.length, out.ptr), 30000)).toMatch(/system context 0x[0-9a-f]+ is not a live handle/);
    expect(qnn.failure(qnn.callSystem(SYSTEM.free, Proto.ptr, 0n), 30000)).toMatch(/system context 0x0 is not a live handle/);
    expect(codeOf(meta(sys, binary.ptr, bytes.length, out.ptr))).toBe(0);
    answer.dispose();
  });
});

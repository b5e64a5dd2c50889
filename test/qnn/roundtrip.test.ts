/**
 * Cross-checks the Koffi declarations against the documented byte offsets through native memory:
 * Koffi encodes, a DataView reads the raw bytes at the offsets of docs/qnn-abi.md (and the
 * reverse). The offsets below are written from docs/qnn-abi.md#tensor-structs (Qnn_Tensor_t
 * absolute offsets), docs/qnn-abi.md#binary-info, docs/qnn-abi.md#graph-info-and-its-stride and
 * docs/qnn-abi.md#power-config-structs.
 */
import { describe, it, expect, afterAll } from 'vitest';
import koffi from 'koffi';
import {
  abi,
  QnnDefinition,
  QnnHtpPowerConfigOption,
  QnnHtpPowerMode,
  QnnHtpVoltageCorner,
  QnnQuantizationEncoding,
  QnnSparseLayout,
  QnnSystemBinaryInfoVersion,
  QnnSystemGraphInfoVersion,
  QnnTensorMemType,
  QnnTensorType,
  QnnTensorVersion,
} from '../../src/qnn/index.js';
import { QnnDataType } from '../../src/tensor/dtype.js';

const allocations: unknown[] = [];
function alloc(type: Parameters<typeof koffi.alloc>[0], length: number): bigint {
  const ptr = koffi.alloc(type, length) as bigint;
  allocations.push(ptr);
  return ptr;
}
afterAll(() => {
  for (const ptr of allocations) koffi.free(ptr);
});

/** A native block filled with `fill` and a little-endian DataView over it. */
function block(bytes: number, fill = 0): { ptr: bigint; view: DataView } {
  const ptr = alloc('uint8_t', bytes);
  const view = new DataView(koffi.view(ptr, bytes));
  new Uint8Array(view.buffer).fill(fill);
  return { ptr, view };
}

function nativeString(text: string): bigint {
  const ptr = alloc('char', text.length + 1);
  koffi.encode(ptr, 'char', text, text.length + 1);
  return ptr;
}

function nativeDims(dims: number[]): bigint {
  const ptr = alloc('uint32_t', dims.length);
  koffi.encode(ptr, 'uint32_t', dims, dims.length);
  return ptr;
}

const ptrAt = (view: DataView, offset: number) => view.getBigUint64(offset, true);
const u32At = (view: DataView, offset: number) => view.getUint32(offset, true);

describe('Qnn_Tensor_t through native memory', () => {
  it('Koffi-encoded V2 tensor (second array element) has every field at the documented absolute offset', () => {
    const name = nativeString('past_key_0_out');
    const dims = nativeDims([8, 1, 64, 128]);
    const data = alloc('uint8_t', 65536);
    const isDynamic = alloc('uint8_t', 4);
    const { ptr, view } = block(2 * 144);
    const tensor = {
      version: QnnTensorVersion.V2,
      u: {
        v2: {
          id: 0x01020304,
          name,
          type: QnnTensorType.APP_READ,
          dataFormat: 0,
          dataType: QnnDataType.UFIXED_POINT_8,
          quantizeParams: {
            encodingDefinition: QnnDefinition.DEFINED,
            quantizationEncoding: QnnQuantizationEncoding.SCALE_OFFSET,
            u: { scaleOffsetEncoding: { scale: 0.015625, offset: -128 } },
          },
          rank: 4,
          dimensions: dims,
          memType: QnnTensorMemType.RAW,
          u: { clientBuf: { data, dataSize: 65536 } },
          isDynamicDimensions: isDynamic,
          sparseParams: { type: QnnSparseLayout.UNDEFINED, u: { hybridCoo: { numSpecifiedElements: 5, numSparseDimensions: 2 } } },
          isProduced: 1,
        },
      },
    };
    koffi.encode(ptr, 144, abi.Qnn_Tensor_t, tensor);

    const base = 144;
    expect(new Uint8Array(view.buffer, 0, 144).every((b) => b === 0)).toBe(true);
    expect(u32At(view, base + 0)).toBe(2);
    expect(u32At(view, base + 8)).toBe(0x01020304);
    expect(ptrAt(view, base + 16)).toBe(name);
    expect(u32At(view, base + 24)).toBe(1);
    expect(u32At(view, base + 28)).toBe(0);
    expect(u32At(view, base + 32)).toBe(0x0408);
    expect(u32At(view, base + 40)).toBe(1);
    expect(u32At(view, base + 44)).toBe(0);
    expect(view.getFloat32(base + 48, true)).toBe(0.015625);
    expect(view.getInt32(base + 52, true)).toBe(-128);
    expect(u32At(view, base + 80)).toBe(4);
    expect(ptrAt(view, base + 88)).toBe(dims);
    expect(u32At(view, base + 96)).toBe(0);
    expect(ptrAt(view, base + 104)).toBe(data);
    expect(u32At(view, base + 112)).toBe(65536);
    expect(ptrAt(view, base + 120)).toBe(isDynamic);
    expect(u32At(view, base + 128)).toBe(0x7fffffff);
    expect(u32At(view, base + 132)).toBe(5);
    expect(u32At(view, base + 136)).toBe(2);
    expect(view.getUint8(base + 140)).toBe(1);
  });

  it('raw bytes written at the documented offsets decode to the same V2 tensor (padding holds garbage)', () => {
    const name = nativeString('logits');
    const dims = nativeDims([1, 128, 151936]);
    const data = alloc('uint16_t', 16);
    // Garbage in every byte not written below (the padding) exposes a field declared too wide.
    const { ptr, view } = block(144, 0xee);
    view.setUint32(0, 2, true);
    view.setUint32(8, 77, true);
    view.setBigUint64(16, name, true);
    view.setUint32(24, QnnTensorType.APP_READ, true);
    view.setUint32(28, 0, true);
    view.setUint32(32, QnnDataType.UFIXED_POINT_16, true);
    view.setUint32(40, QnnDefinition.DEFINED, true);
    view.setUint32(44, QnnQuantizationEncoding.SCALE_OFFSET, true);
    view.setFloat32(48, 0.5, true);
    view.setInt32(52, -32768, true);
    view.setUint32(80, 3, true);
    view.setBigUint64(88, dims, true);
    view.setUint32(96, QnnTensorMemType.RAW, true);
    view.setBigUint64(104, data, true);
    view.setUint32(112, 32, true);
    view.setBigUint64(120, 0n, true);
    view.setUint32(128, QnnSparseLayout.HYBRID_COO, true);
    view.setUint32(132, 7, true);
    view.setUint32(136, 3, true);
    view.setUint8(140, 1);

    const decoded = koffi.decode(ptr, abi.Qnn_Tensor_t);
    expect(decoded.version).toBe(2);
    const v2 = decoded.u.v2;
    expect(v2.id).toBe(77);
    expect(v2.name).toBe('logits');
    expect(v2.type).toBe(QnnTensorType.APP_READ);
    expect(v2.dataType).toBe(0x0416);
    expect(v2.quantizeParams.encodingDefinition).toBe(1);
    expect(v2.quantizeParams.u.scaleOffsetEncoding).toEqual({ scale: 0.5, offset: -32768 });
    expect(v2.rank).toBe(3);
    expect(Array.from(koffi.decode(v2.dimensions, 'uint32_t', v2.rank))).toEqual([1, 128, 151936]);
    expect(v2.u.clientBuf).toEqual({ data, dataSize: 32 });
    expect(v2.isDynamicDimensions).toBeNull();
    expect(v2.sparseParams.type).toBe(0);
    expect(v2.sparseParams.u.hybridCoo).toEqual({ numSpecifiedElements: 7, numSparseDimensions: 3 });
    expect(v2.isProduced).toBe(1);
    // V1 fields are a prefix of V2 at the same offsets.
    expect(decoded.u.v1.name).toBe('logits');
    expect(decoded.u.v1.u.clientBuf.dataSize).toBe(32);
  });

  it('a V1 tensor with a mem handle puts the handle at absolute offset 104', () => {
    const { ptr, view } = block(144);
    const handle = 0x1234_5678_9abcn;
    koffi.encode(ptr, abi.Qnn_Tensor_t, {
      version: QnnTensorVersion.V1,
      u: { v1: { id: 3, name: null, rank: 0, dimensions: null, memType: QnnTensorMemType.MEMHANDLE, u: { memHandle: handle } } },
    });
    expect(u32At(view, 0)).toBe(1);
    expect(u32At(view, 8)).toBe(3);
    expect(u32At(view, 96)).toBe(1);
    expect(ptrAt(view, 104)).toBe(handle);
  });
});

describe('system metadata through native memory', () => {
  it('a V3 binary info with two 88-byte V3 graph infos decodes from documented offsets', () => {
    const tensors = block(3 * 144);
    for (let i = 0; i < 3; i++) tensors.view.setUint32(i * 144 + 8, 100 + i, true);
    const graphs = block(2 * 88);
    const names = [nativeString('prompt_ar128_cl512_1_of_2'), nativeString('token_ar1_cl512_1_of_2')];
    for (let g = 0; g < 2; g++) {
      const at = g * 88;
      graphs.view.setUint32(at + 0, QnnSystemGraphInfoVersion.V3, true);
      graphs.view.setBigUint64(at + 8, names[g], true);
      graphs.view.setUint32(at + 16, 2, true);
      graphs.view.setBigUint64(at + 24, tensors.ptr, true);
      graphs.view.setUint32(at + 32, 1, true);
      graphs.view.setBigUint64(at + 40, tensors.ptr + 288n, true);
      graphs.view.setUint32(at + 80, 10 * g, true);
      graphs.view.setUint32(at + 84, 10 * g + 9, true);
    }
    const info = block(144);
    const buildId = nativeString('v2.43.0');
    info.view.setUint32(0, QnnSystemBinaryInfoVersion.V3, true);
    info.view.setUint32(8, 6, true);
    info.view.setBigUint64(16, buildId, true);
    info.view.setUint32(24, 2, true);
    info.view.setUint32(28, 32, true);
    info.view.setUint32(36, 5, true);
    info.view.setBigUint64(72, 123456789n, true);
    info.view.setUint32(96, 2, true);
    info.view.setBigUint64(104, graphs.ptr, true);
    info.view.setUint32(136, 69, true);

    const decoded = koffi.decode(info.ptr, abi.QnnSystemContext_BinaryInfo_t);
    expect(decoded.version).toBe(3);
    const v3 = decoded.u.contextBinaryInfoV3;
    expect(v3.backendId).toBe(6);
    expect(v3.buildId).toBe('v2.43.0');
    expect(v3.coreApiVersion).toEqual({ major: 2, minor: 32, patch: 0 });
    expect(v3.backendApiVersion.major).toBe(5);
    expect(v3.contextBlobSize).toBe(123456789);
    expect(v3.numGraphs).toBe(2);
    expect(v3.graphs).toBe(graphs.ptr);
    expect(v3.socModel).toBe(69);

    const decodedGraphs = koffi.decode(v3.graphs, abi.QnnSystemContext_GraphInfo_t, v3.numGraphs);
    expect(decodedGraphs).toHaveLength(2);
    const second = decodedGraphs[1].u.graphInfoV3;
    expect(decodedGraphs[1].version).toBe(3);
    expect(second.graphName).toBe('token_ar1_cl512_1_of_2');
    expect(second.startOpIndex).toBe(10);
    expect(second.endOpIndex).toBe(19);
    const inputs = koffi.decode(second.graphInputs, abi.Qnn_Tensor_t, second.numGraphInputs);
    const outputs = koffi.decode(second.graphOutputs, abi.Qnn_Tensor_t, second.numGraphOutputs);
    expect(inputs.map((t: { u: { v1: { id: number } } }) => t.u.v1.id)).toEqual([100, 101]);
    expect(outputs[0].u.v1.id).toBe(102);
  });
});

describe('HTP power config through native memory', () => {
  it('a DCVS V3 "burst" vote lands at option @0 and the u32 fields from @4', () => {
    const { ptr, view } = block(68);
    koffi.encode(ptr, abi.QnnHtpPerfInfrastructure_PowerConfig_t, {
      option: QnnHtpPowerConfigOption.DCVS_V3,
      u: {
        dcvsV3Config: {
          contextId: 9, setDcvsEnable: 1, dcvsEnable: 0, powerMode: QnnHtpPowerMode.PERFORMANCE,
          setSleepLatency: 1, sleepLatency: 40, setSleepDisable: 0, sleepDisable: 0,
          setBusParams: 1, busVoltageCornerMin: QnnHtpVoltageCorner.MAX, busVoltageCornerTarget: QnnHtpVoltageCorner.MAX,
          busVoltageCornerMax: QnnHtpVoltageCorner.MAX, setCoreParams: 1, coreVoltageCornerMin: QnnHtpVoltageCorner.MAX,
          coreVoltageCornerTarget: QnnHtpVoltageCorner.MAX, coreVoltageCornerMax: QnnHtpVoltageCorner.MAX,
        },
      },
    });
    const words = Array.from({ length: 17 }, (_, i) => u32At(view, 4 * i));
    expect(words).toEqual([1, 9, 1, 0, 0x10, 1, 40, 0, 0, 1, 0xa0, 0xa0, 0xa0, 1, 0xa0, 0xa0, 0xa0]);
  });
});

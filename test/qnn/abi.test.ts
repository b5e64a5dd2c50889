import { describe, it, expect } from 'vitest';
import koffi from 'koffi';
import type { TypeObject } from 'koffi';
import {
  abi,
  INTERFACE_TABLE_OFFSET,
  SYSTEM_INTERFACE_TABLE_OFFSET,
  SLOT_SIZE,
  TENSOR_STRIDE,
  graphInfoStride,
} from '../../src/qnn/index.js';
import { InvalidArgumentError, NotSupportedError } from '../../src/errors.js';

/** Offset of a dotted member path, e.g. 'u.v2.quantizeParams' (Koffi's offsetof takes one level). */
function offsetOf(type: TypeObject, path: string): number {
  let offset = 0;
  let current = koffi.type(type);
  for (const name of path.split('.')) {
    const member = current.members?.[name];
    if (member === undefined) throw new Error(`${current.name} has no member ${name}`);
    offset += member.offset;
    current = member.type;
  }
  return offset;
}

function memberSize(type: TypeObject, path: string): number {
  let current = koffi.type(type);
  for (const name of path.split('.')) {
    const member = current.members?.[name];
    if (member === undefined) throw new Error(`${current.name} has no member ${name}`);
    current = member.type;
  }
  return current.size;
}

function expectLayout(type: TypeObject, size: number, align: number, offsets: Record<string, number>): void {
  expect(koffi.sizeof(type)).toBe(size);
  expect(koffi.alignof(type)).toBe(align);
  for (const [path, offset] of Object.entries(offsets)) {
    expect(offsetOf(type, path), `${koffi.type(type).name}.${path}`).toBe(offset);
  }
}

describe('scalars and versions (docs/qnn-abi.md#scalars-handles-and-versions)', () => {
  it('Qnn_ErrorHandle_t and Qnn_ContextBinarySize_t are uint64, Qnn_Version_t 12 B, Qnn_ApiVersion_t 24 B', () => {
    expect(koffi.sizeof(abi.Qnn_ErrorHandle_t)).toBe(8);
    expect(koffi.sizeof(abi.Qnn_ContextBinarySize_t)).toBe(8);
    expectLayout(abi.Qnn_Version_t, 12, 4, { major: 0, minor: 4, patch: 8 });
    expectLayout(abi.Qnn_ApiVersion_t, 24, 4, { coreApiVersion: 0, backendApiVersion: 12 });
  });
});

describe('quantization structs (docs/qnn-abi.md#quantization-structs)', () => {
  it('has the documented size, alignment and field offsets', () => {
    expectLayout(abi.Qnn_ScaleOffset_t, 8, 4, { scale: 0, offset: 4 });
    expectLayout(abi.Qnn_BwScaleOffset_t, 12, 4, { bitwidth: 0, scale: 4, offset: 8 });
    expectLayout(abi.Qnn_AxisScaleOffset_t, 16, 8, { axis: 0, numScaleOffsets: 4, scaleOffset: 8 });
    expectLayout(abi.Qnn_BwAxisScaleOffset_t, 32, 8, { bitwidth: 0, axis: 4, numElements: 8, scales: 16, offsets: 24 });
    expectLayout(abi.Qnn_BlockEncoding_t, 16, 8, { blockSize: 0, scaleOffset: 8 });
    expectLayout(abi.Qnn_BlockwiseExpansion_t, 40, 8, {
      axis: 0, scaleOffsets: 8, numBlocksPerAxis: 16, blockScaleBitwidth: 20, blockScaleStorageType: 24,
      'u.blocksScale8': 32, 'u.blocksScale16': 32,
    });
    expectLayout(abi.Qnn_VectorEncoding_t, 48, 8, {
      bwAxisScaleOffset: 0, rowsPerBlock: 32, columnsPerBlock: 36, vectorDimension: 40, vectorStride: 41, indexBitwidth: 42,
    });
  });

  it('Qnn_QuantizeParams_t is 40 B with a 32 B union at 8', () => {
    expectLayout(abi.Qnn_QuantizeParams_t, 40, 8, {
      encodingDefinition: 0, quantizationEncoding: 4, u: 8,
      'u.scaleOffsetEncoding.scale': 8, 'u.scaleOffsetEncoding.offset': 12,
      'u.bwAxisScaleOffsetEncoding.offsets': 32,
      'u.blockwiseExpansion': 8, 'u.vectorEncoding': 8,
    });
    expect(memberSize(abi.Qnn_QuantizeParams_t, 'u')).toBe(32);
  });
});

describe('tensor structs (docs/qnn-abi.md#tensor-structs)', () => {
  it('Qnn_ClientBuffer_t is {void* @0, uint32 @8} = 16 B', () => {
    expectLayout(abi.Qnn_ClientBuffer_t, 16, 8, { data: 0, dataSize: 8 });
  });

  it('Qnn_TensorV1_t is 112 B and V2 136 B with V1 as a prefix at the same offsets', () => {
    const v1Offsets = {
      id: 0, name: 8, type: 16, dataFormat: 20, dataType: 24, quantizeParams: 32, rank: 72, dimensions: 80,
      memType: 88, 'u.clientBuf.data': 96, 'u.clientBuf.dataSize': 104, 'u.memHandle': 96,
    };
    expectLayout(abi.Qnn_TensorV1_t, 112, 8, v1Offsets);
    expectLayout(abi.Qnn_TensorV2_t, 136, 8, {
      ...v1Offsets, 'u.retrieveRaw': 96, isDynamicDimensions: 112, sparseParams: 120,
      'sparseParams.type': 120, 'sparseParams.u.hybridCoo.numSpecifiedElements': 124,
      'sparseParams.u.hybridCoo.numSparseDimensions': 128, isProduced: 132,
    });
    expectLayout(abi.Qnn_SparseParams_t, 12, 4, { type: 0, u: 4 });
  });

  it('Qnn_Tensor_t is 144 B, align 8, with the documented absolute offsets', () => {
    expectLayout(abi.Qnn_Tensor_t, 144, 8, {
      version: 0, 'u.v1': 8, 'u.v2': 8,
      'u.v2.id': 8, 'u.v2.name': 16, 'u.v2.type': 24, 'u.v2.dataFormat': 28, 'u.v2.dataType': 32,
      'u.v2.quantizeParams': 40, 'u.v2.quantizeParams.encodingDefinition': 40,
      'u.v2.quantizeParams.quantizationEncoding': 44, 'u.v2.quantizeParams.u.scaleOffsetEncoding.scale': 48,
      'u.v2.quantizeParams.u.scaleOffsetEncoding.offset': 52, 'u.v2.rank': 80, 'u.v2.dimensions': 88,
      'u.v2.memType': 96, 'u.v2.u.clientBuf.data': 104, 'u.v2.u.memHandle': 104, 'u.v2.u.clientBuf.dataSize': 112,
      'u.v2.isDynamicDimensions': 120, 'u.v2.sparseParams': 128, 'u.v2.isProduced': 140,
      'u.v1.u.memHandle': 104,
    });
  });

  it('arrays of Qnn_Tensor_t have stride 144', () => {
    expect(TENSOR_STRIDE).toBe(144);
    expect(koffi.sizeof(koffi.array(abi.Qnn_Tensor_t, 3))).toBe(3 * 144);
  });
});

describe('field widths the layouts alone do not pin down', () => {
  it('uses the documented scalar widths', () => {
    // docs/qnn-abi.md#tensor-structs: dataSize is uint32 (buffers < 4 GiB), isProduced uint8, rank
    // uint32.
    expect(memberSize(abi.Qnn_ClientBuffer_t, 'dataSize')).toBe(4);
    expect(memberSize(abi.Qnn_TensorV2_t, 'isProduced')).toBe(1);
    expect(memberSize(abi.Qnn_TensorV2_t, 'rank')).toBe(4);
    // docs/qnn-abi.md#quantization-structs: scale f32, offset i32; docs/qnn-abi.md#config-structs:
    // HTP device custom config bools are 1 byte.
    expect(memberSize(abi.Qnn_ScaleOffset_t, 'scale')).toBe(4);
    expect(memberSize(abi.QnnHtpDevice_CustomConfig_t, 'u.signedPd.useSignedProcessDomain')).toBe(1);
    // docs/qnn-abi.md#config-structs: maxSpillFillBuffer and fileReadMemoryBudgetInMb are u64;
    // docs/qnn-abi.md#binary-info: contextBlobSize u64.
    expect(memberSize(abi.QnnHtpContext_CustomConfig_t, 'u.groupRegistration.maxSpillFillBuffer')).toBe(8);
    expect(memberSize(abi.QnnHtpContext_CustomConfig_t, 'u.fileReadMemoryBudgetInMb')).toBe(8);
    expect(memberSize(abi.QnnHtpContext_CustomConfig_t, 'u.weightSharingEnabled')).toBe(1);
    expect(memberSize(abi.QnnContext_Config_t, 'u.isPersistentBinary')).toBe(1);
    expect(memberSize(abi.QnnContext_Config_t, 'u.memoryLimitHint')).toBe(8);
    expect(memberSize(abi.QnnSystemContext_BinaryInfo_t, 'u.contextBinaryInfoV3.contextBlobSize')).toBe(8);
    expect(memberSize(abi.QnnSystemContext_BinaryInfo_t, 'u.contextBinaryInfoV1.hwInfoBlobSize')).toBe(4);
    // docs/qnn-abi.md#shared-memory: fds are int32, the HTP descriptor size and shared offset u64.
    expect(memberSize(abi.Qnn_MemDescriptor_t, 'u.ionInfo.fd')).toBe(4);
    expect(memberSize(abi.QnnMemHtp_Descriptor_t, 'size')).toBe(8);
    expect(memberSize(abi.QnnMemHtp_Descriptor_t, 'u.sharedBufferConfig.offset')).toBe(8);
    // docs/qnn-abi.md#htp-blobs: numHvxThreads u64, htpDlbc u8; docs/qnn-abi.md#profiling: event
    // value u64.
    expect(memberSize(abi.QnnHtpSystemContext_GraphBlobInfo_t, 'u.graphBlobInfoV1.numHvxThreads')).toBe(8);
    expect(memberSize(abi.QnnHtpSystemContext_GraphBlobInfo_t, 'u.graphBlobInfoV1.htpDlbc')).toBe(1);
    expect(memberSize(abi.QnnProfile_EventData_t, 'value')).toBe(8);
  });
});

describe('interface providers (docs/qnn-abi.md#interface-provider-structs)', () => {
  it('QnnInterface_t: backendId @0, providerName @8, apiVersion @16/@28, table of 71 slots @40', () => {
    expectLayout(abi.QnnInterface_t, 40 + 71 * 8, 8, {
      backendId: 0, providerName: 8, apiVersion: 16, 'apiVersion.coreApiVersion': 16,
      'apiVersion.backendApiVersion': 28, functionTable: 40,
    });
    expect(INTERFACE_TABLE_OFFSET).toBe(40);
    expect(SLOT_SIZE).toBe(8);
  });

  it('QnnSystemInterface_t: systemApiVersion @16, table @32 (slots 0-3 declared)', () => {
    expectLayout(abi.QnnSystemInterface_t, 32 + 4 * 8, 8, {
      backendId: 0, providerName: 8, systemApiVersion: 16, functionTable: 32,
    });
    expect(SYSTEM_INTERFACE_TABLE_OFFSET).toBe(32);
  });
});

describe('shared memory descriptors (docs/qnn-abi.md#shared-memory)', () => {
  it('Qnn_MemDescriptor_t is 48 B with the union at 32', () => {
    expectLayout(abi.Qnn_MemDescriptor_t, 48, 8, {
      'memShape.numDim': 0, 'memShape.dimSize': 8, 'memShape.shapeConfig': 16, dataType: 24, memType: 28,
      'u.ionInfo.fd': 32, 'u.customInfo': 32, 'u.dmaBufInfo.fd': 32, 'u.dmaBufInfo.data': 40,
    });
  });

  it('QnnMemHtp_Descriptor_t is 32 B: type @0, size @8, shared buffer fd @16, offset @24', () => {
    expectLayout(abi.QnnMemHtp_Descriptor_t, 32, 8, {
      type: 0, size: 8, 'u.qurtAddress': 16, 'u.sharedBufferConfig.fd': 16, 'u.sharedBufferConfig.offset': 24,
    });
  });
});

describe('configs (docs/qnn-abi.md#config-structs)', () => {
  it('backend, device, context and graph configs are option + union @8 = 16 B', () => {
    expectLayout(abi.QnnBackend_Config_t, 16, 8, {
      option: 0, 'u.customConfig': 8, 'u.errorConfig.reportingLevel': 8, 'u.errorConfig.storageLimit': 12,
      'u.platformOption': 8,
    });
    expectLayout(abi.QnnDevice_Config_t, 16, 8, { option: 0, 'u.customConfig': 8, 'u.hardwareInfo': 8 });
    expectLayout(abi.QnnContext_Config_t, 16, 8, {
      option: 0, 'u.customConfig': 8, 'u.priority': 8, 'u.oemString': 8, 'u.asyncExeQueueDepth.type': 8,
      'u.asyncExeQueueDepth.depth': 12, 'u.enableGraphs': 8, 'u.memoryLimitHint': 8, 'u.isPersistentBinary': 8,
    });
    expectLayout(abi.QnnGraph_Config_t, 16, 8, { option: 0, 'u.priority': 8, 'u.profileHandle': 8 });
  });

  it('QnnHtpDevice_CustomConfig_t is 12 B, align 4', () => {
    expectLayout(abi.QnnHtpDevice_CustomConfig_t, 12, 4, {
      option: 0, 'u.socModel': 4, 'u.arch.deviceId': 4, 'u.arch.arch': 8, 'u.signedPd.useSignedProcessDomain': 8,
    });
  });

  it('QnnHtpContext_CustomConfig_t is 24 B with group registration {handle @8, max spill-fill @16}', () => {
    expectLayout(abi.QnnHtpContext_CustomConfig_t, 24, 8, {
      option: 0, 'u.weightSharingEnabled': 8, 'u.groupRegistration.firstGroupHandle': 8,
      'u.groupRegistration.maxSpillFillBuffer': 16, 'u.fileReadMemoryBudgetInMb': 8, 'u.shareResOptType': 8,
    });
  });
});

describe('HTP performance infrastructure (docs/qnn-abi.md#htp-performance-infrastructure)', () => {
  it('PowerConfig is 68 B, align 4, DCVS V3 fields at union offset 4 + documented', () => {
    const dcvs = [
      'contextId', 'setDcvsEnable', 'dcvsEnable', 'powerMode', 'setSleepLatency', 'sleepLatency', 'setSleepDisable',
      'sleepDisable', 'setBusParams', 'busVoltageCornerMin', 'busVoltageCornerTarget', 'busVoltageCornerMax',
      'setCoreParams', 'coreVoltageCornerMin', 'coreVoltageCornerTarget', 'coreVoltageCornerMax',
    ];
    // docs/qnn-abi.md#power-config-structs lists the DcvsV3 offsets 0, 4, ..., 60 in this order.
    expectLayout(abi.QnnHtpPerfInfrastructure_DcvsV3_t, 64, 4, Object.fromEntries(dcvs.map((f, i) => [f, 4 * i])));
    expectLayout(abi.QnnHtpPerfInfrastructure_PowerConfig_t, 68, 4, {
      option: 0, 'u.dcvsV3Config': 4, 'u.dcvsV3Config.sleepLatency': 24, 'u.rpcControlLatencyConfig': 4,
      'u.rpcPollingTimeConfig': 4, 'u.hmxV2Config.hmxPerfMode': 20,
    });
    expectLayout(abi.QnnHtpPerfInfrastructure_HmxV2_t, 20, 4, {
      hmxPickDefault: 0, hmxVoltageCornerMin: 4, hmxVoltageCornerTarget: 8, hmxVoltageCornerMax: 12, hmxPerfMode: 16,
    });
    expectLayout(abi.QnnHtpPerfInfrastructure_MemoryConfig_t, 8, 4, { option: 0, 'u.memGrowSizeConfig': 4 });
  });

  it('QnnHtpDevice_Infrastructure_t is 40 B: infraType @0, the four perf functions @8/16/24/32', () => {
    expectLayout(abi.QnnHtpDevice_Infrastructure_t, 40, 8, {
      infraType: 0, 'perfInfra.createPowerConfigId': 8, 'perfInfra.destroyPowerConfigId': 16,
      'perfInfra.setPowerConfig': 24, 'perfInfra.setMemoryConfig': 32,
    });
  });
});

describe('device platform info (docs/qnn-abi.md#device-platform-info)', () => {
  it('PlatformInfo 24, HardwareDeviceInfo 40, CoreInfo 24, HTP device info extension 32', () => {
    expectLayout(abi.QnnDevice_PlatformInfo_t, 24, 8, { version: 0, 'u.v1.numHwDevices': 8, 'u.v1.hwDevices': 16 });
    expectLayout(abi.QnnDevice_HardwareDeviceInfo_t, 40, 8, {
      version: 0, 'u.v1.deviceId': 8, 'u.v1.deviceType': 12, 'u.v1.numCores': 16, 'u.v1.cores': 24,
      'u.v1.deviceInfoExtension': 32,
    });
    expectLayout(abi.QnnDevice_CoreInfo_t, 24, 8, {
      version: 0, 'u.v1.coreId': 8, 'u.v1.coreType': 12, 'u.v1.coreInfoExtension': 16,
    });
    expectLayout(abi.QnnHtpDevice_DeviceInfoExtension_t, 32, 8, {
      devType: 0, 'u.onChipDevice.vtcmSize': 8, 'u.onChipDevice.socModel': 16, 'u.onChipDevice.signedPdSupport': 20,
      'u.onChipDevice.dlbcSupport': 21, 'u.onChipDevice.arch': 24,
    });
  });
});

describe('profiling (docs/qnn-abi.md#profiling)', () => {
  it('QnnProfile_EventData_t is 24 B: type @0, unit @4, value @8, identifier @16', () => {
    expectLayout(abi.QnnProfile_EventData_t, 24, 8, { type: 0, unit: 4, value: 8, identifier: 16 });
  });
});

describe('QnnSystem metadata (docs/qnn-abi.md#context-binary-metadata)', () => {
  it('GraphInfo inner structs are 40/56/80 B and the SDK >= 2.28 GraphInfo is 88 B', () => {
    const v1 = { graphName: 0, numGraphInputs: 8, graphInputs: 16, numGraphOutputs: 24, graphOutputs: 32 };
    const v2 = { ...v1, numUpdateableTensors: 40, updateableTensors: 48 };
    expectLayout(abi.QnnSystemContext_GraphInfoV1_t, 40, 8, v1);
    expectLayout(abi.QnnSystemContext_GraphInfoV2_t, 56, 8, v2);
    expectLayout(abi.QnnSystemContext_GraphInfoV3_t, 80, 8, {
      ...v2, graphBlobInfoSize: 56, graphBlobInfo: 64, startOpIndex: 72, endOpIndex: 76,
    });
    expectLayout(abi.QnnSystemContext_GraphInfo_t, 88, 8, {
      version: 0, 'u.graphInfoV1.graphName': 8, 'u.graphInfoV3.graphOutputs': 40, 'u.graphInfoV3.graphBlobInfo': 72,
      'u.graphInfoV3.endOpIndex': 84,
    });
  });

  it('BinaryInfo is 144 B with the documented absolute offsets per version', () => {
    expect(koffi.sizeof(abi.QnnSystemContext_BinaryInfoV1_t)).toBe(128);
    expect(koffi.sizeof(abi.QnnSystemContext_BinaryInfoV2_t)).toBe(136);
    expect(koffi.sizeof(abi.QnnSystemContext_BinaryInfoV3_t)).toBe(136);
    const common = { backendId: 8, buildId: 16, coreApiVersion: 24, backendApiVersion: 36, socVersion: 48 };
    const v1 = {
      ...common, hwInfoBlobVersion: 56, contextBlobVersion: 68, hwInfoBlobSize: 80, hwInfoBlob: 88,
      contextBlobSize: 96, numContextTensors: 104, contextTensors: 112, numGraphs: 120, graphs: 128,
    };
    const v3 = {
      ...common, contextBlobVersion: 56, contextBlobSize: 72, numContextTensors: 80, contextTensors: 88,
      numGraphs: 96, graphs: 104, platformInfo: 112, contextMetadataSize: 120, contextMetadata: 128, socModel: 136,
    };
    const prefixed = (member: string, fields: Record<string, number>) =>
      Object.fromEntries(Object.entries(fields).map(([f, o]) => [`u.${member}.${f}`, o]));
    expectLayout(abi.QnnSystemContext_BinaryInfo_t, 144, 8, {
      version: 0,
      ...prefixed('contextBinaryInfoV1', v1),
      ...prefixed('contextBinaryInfoV2', { ...v1, platformInfo: 136 }),
      ...prefixed('contextBinaryInfoV3', v3),
    });
  });

  it('HTP graph blob info is 40 B and hw blob info 24 B', () => {
    expectLayout(abi.QnnHtpSystemContext_GraphBlobInfo_t, 40, 8, {
      version: 0, 'u.graphBlobInfoV1.spillFillBufferSize': 8, 'u.graphBlobInfoV1.vtcmSize': 16,
      'u.graphBlobInfoV1.optimizationLevel': 20, 'u.graphBlobInfoV1.htpDlbc': 24, 'u.graphBlobInfoV1.numHvxThreads': 32,
    });
    expectLayout(abi.QnnHtpSystemContext_HwBlobInfo_t, 24, 8, {
      version: 0, 'u.hwBlobInfoV1.graphListIndex': 8, 'u.hwBlobInfoV1.spillFillBufferSize': 16,
    });
  });

  it('graphInfoStride follows the SDK of libQnnSystem: 48 up to API 2.16, 64 for 2.17-2.20, 88 from 2.21', () => {
    expect([14, 16].map(graphInfoStride)).toEqual([48, 48]);
    expect([17, 20].map(graphInfoStride)).toEqual([64, 64]);
    expect([21, 32, 40].map(graphInfoStride)).toEqual([88, 88, 88]);
  });

  it('graphInfoStride rejects unsupported or malformed minors and keeps working', () => {
    expect(() => graphInfoStride(13)).toThrow(NotSupportedError);
    expect(() => graphInfoStride(13)).toThrow(/coreApiMinor 13: QNN core API 2\.13 is older than the minimum supported 2\.14/);
    expect(() => graphInfoStride(1.5)).toThrow(InvalidArgumentError);
    expect(() => graphInfoStride(1.5)).toThrow(/coreApiMinor must be a non-negative integer, got 1\.5/);
    expect(() => graphInfoStride(-1)).toThrow(/got -1/);
    expect(graphInfoStride(21)).toBe(88);
  });
});

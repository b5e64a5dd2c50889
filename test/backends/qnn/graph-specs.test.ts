import { describe, expect, it } from 'vitest';
import { toTensorSpec } from '../../../src/backends/qnn/index.js';
import { QnnDataType } from '../../../src/tensor/dtype.js';

describe('toTensorSpec', () => {
  it('names the dtype and takes the encoding from SCALE_OFFSET or BW_SCALE_OFFSET quant params', () => {
    const base = { id: 1, name: 'logits', type: 1, dataFormat: 0, dims: [1, 4, 32] };
    expect(
      toTensorSpec({
        ...base,
        dataType: QnnDataType.UFIXED_POINT_16,
        quantization: { definition: 1, encoding: 0, scaleOffset: { scale: 0.25, offset: -30000 } },
      }),
    ).toEqual({ name: 'logits', dtype: 'UFIXED_POINT_16', shape: [1, 4, 32], encoding: { scale: 0.25, offset: -30000 } });
    expect(
      toTensorSpec({
        ...base,
        dataType: QnnDataType.UFIXED_POINT_8,
        quantization: { definition: 1, encoding: 2, scaleOffset: { scale: 0.5, offset: -128, bitwidth: 8 } },
      }).encoding,
    ).toEqual({ scale: 0.5, offset: -128 });
    expect(
      toTensorSpec({ ...base, dataType: QnnDataType.FLOAT_32, quantization: { definition: 0x7fffffff, encoding: 0x7fffffff } }),
    ).toEqual({ name: 'logits', dtype: 'FLOAT_32', shape: [1, 4, 32] });
  });
});

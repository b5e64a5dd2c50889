export {
  QnnDataType,
  byteSize,
  codeRange,
  dataTypeName,
  isDataTypeName,
  isFixedPoint,
  isFloat,
  type CodeArray,
  type DataTypeName,
  type DataTypeValue,
  type ElementArray,
  type Encoding,
} from './dtype.js';
export { float16ArrayToFloat32, float16ToFloat32, float32ArrayToFloat16, float32ToFloat16 } from './fp16.js';
export { bfloat16ArrayToFloat32, bfloat16ToFloat32, float32ArrayToBfloat16, float32ToBfloat16 } from './bf16.js';
export { assertFixedPoint, validateEncoding } from './encoding.js';
export {
  dequantize,
  dequantizeArray,
  quantize,
  quantizeArray,
  requantize,
  requantizeArray,
  type FloatArray,
  type Rounding,
} from './quant.js';
export { elementCount } from './shape.js';
export { assertMinLength, assertViewFor, typedView, viewClassName, type TypedView, type TypedViewMap } from './views.js';

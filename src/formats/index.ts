export { SafetensorsError } from './errors.js';
export {
  SafetensorsReader,
  readSafetensors,
  writeSafetensors,
  safetensorsPieces,
  type RawTensor,
  parseSafetensorsBytes,
  tensorToFloat32,
  isFloatDType,
  type SafetensorsDType,
  type SafetensorsFloatDType,
  type SafetensorsTensorInfo,
  type SafetensorsLayout,
  type SafetensorsContents,
  type FloatTensor,
} from './safetensors.js';

export { SafetensorsError } from './errors.js';
export {
  SafetensorsReader,
  readSafetensors,
  writeSafetensors,
  type SafetensorsDType,
  type SafetensorsTensorInfo,
  type SafetensorsContents,
  type FloatTensor,
} from './safetensors.js';

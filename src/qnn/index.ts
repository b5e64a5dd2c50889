export {
  abi,
  CORE_SLOT_PROTOS,
  SYSTEM_SLOT_PROTOS,
  type BoundCoreSlotName,
  QNN_INTERFACE_GET_PROVIDERS_SYMBOL,
  QNN_SYSTEM_INTERFACE_GET_PROVIDERS_SYMBOL,
  INTERFACE_TABLE_OFFSET,
  SYSTEM_INTERFACE_TABLE_OFFSET,
  SLOT_SIZE,
  TENSOR_STRIDE,
  graphInfoStride,
} from './abi.js';
export {
  type QnnApiVersion,
  MIN_CORE_API_VERSION,
  MIN_SYSTEM_API_VERSION,
  type CoreSlotName,
  type SystemSlotName,
  type InterfaceSlot,
  CORE_SLOTS,
  CORE_SLOT_INDEX,
  SYSTEM_SLOTS,
  SYSTEM_SLOT_INDEX,
  requireSupportedCoreApiMinor,
  validSlotCount,
} from './slots.js';
export * from './enums.js';
export { QnnErrorCode, qnnErrorName, qnnErrorHint, QnnError, qnnErrorCode, checkQnn } from './errors.js';
export * from './binding/index.js';

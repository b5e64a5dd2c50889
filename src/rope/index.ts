export {
  ropeAttentionFactor,
  ropeInvFreq,
  validateRopeFrequencyOptions,
  type RopeFrequencyOptions,
  type RopeScaling,
  type RopeScalingType,
} from './inv-freq.js';
export { RopeTable, type RopeTableArray, type RopeTableDtype, type RopeTableOptions } from './table.js';

export { TensorRanges, type ValueRange } from './ranges.js';
export { RangeRecordingBackend } from './recording-backend.js';
export { calibrateIoRanges, type CalibrationRun } from './calibrate.js';
export {
  DEFAULT_CALIBRATION_MARGIN, float16IoTypes, htpIoTypes, MASK_FLOAT_RANGE, rangeEncoding, symmetricEncoding,
  type GraphIo, type HtpTypesOptions, type IoType,
} from './encodings.js';
export { logitsStep, sqnrDb, teacherForcedFidelity, type FidelityReport, type FidelityTurn } from './fidelity.js';

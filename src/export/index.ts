export { calibrateHtpIo, CALIBRATION_DECODE_STEPS, htpLut, promptTokenLimit, type FloatModelRun } from './calibrate.js';
export { htpCalibrator } from './calibrator.js';
export {
  CalibrationPromptsError, DEFAULT_CALIBRATION_PROMPTS, DEFAULT_CALIBRATION_TEXTS, MAX_PROMPTS_BYTES, readCalibrationPrompts, type CalibrationPrompts,
} from './prompts.js';
export { readLikeGraphs } from './like.js';

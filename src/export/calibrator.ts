/** The calibrator `genie-ts export --quant htp` hands the exporter: prompts tokenized with the checkpoint's tokenizer. */
import type { CalibratedIo, FloatExport, IoCalibrator } from '../backends/reference/index.js';
import { loadTokenizer } from '../runtime/tokenizer/index.js';
import { calibrateHtpIo, htpLut, promptTokenLimit } from './calibrate.js';
import { CalibrationPromptsError, DEFAULT_CALIBRATION_PROMPTS, type CalibrationPrompts } from './prompts.js';

/**
 * Calibrates an export on `prompts` (default: the built-in set): each prompt's first
 * `promptTokenLimit` tokens (no special tokens added), then greedy decode steps.
 * @throws CalibrationPromptsError (when the calibrator runs) for a prompt that gives no token, or a
 *   token outside the model's vocabulary
 */
export function htpCalibrator(prompts: CalibrationPrompts = DEFAULT_CALIBRATION_PROMPTS): IoCalibrator {
  return async (model: FloatExport): Promise<CalibratedIo> => {
    const tokenizer = await loadTokenizer(model.tokenizerPath);
    const limit = promptTokenLimit(model.cl, model.arSet);
    const { model: shape } = model.parts[0].metadata;
    const tokens = prompts.texts.map((text, i) => {
      const ids = Array.from(tokenizer.encode(text).subarray(0, limit));
      const bad = (what: string): CalibrationPromptsError => new CalibrationPromptsError(prompts.source, `calibration prompt ${i + 1} of ${prompts.source} ${what}`);
      if (ids.length === 0) throw bad('gives no token');
      const outside = ids.find((id) => id >= shape.vocab);
      if (outside !== undefined) {
        throw bad(`gives token id ${outside}, outside the model's vocabulary [0, ${shape.vocab}): "${model.tokenizerPath}" does not match the model`);
      }
      return ids;
    });
    model.onProgress(`  ${prompts.source}, up to ${limit} tokens each`);
    const tensorTypes = await calibrateHtpIo({
      parts: model.parts,
      input: model.input,
      contextSize: model.cl,
      embeddingTable: model.embeddingTable,
      vocabSize: shape.vocab,
      hiddenSize: shape.hidden,
      padToken: model.padToken,
      eosToken: model.eosToken,
      rope: model.rope,
      prompts: tokens,
      scratch: model.scratch,
    });
    return { tensorTypes, lut: model.input === 'embeds' ? htpLut(model.embeddingTable) : undefined, source: prompts.source };
  };
}

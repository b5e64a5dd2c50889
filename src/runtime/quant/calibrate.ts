/**
 * Calibration: run a float32 model on fixed prompts through the Engine (prefill, then greedy
 * decoding) and record the range of every float IO tensor, as a quantizer's calibration pass does.
 */
import type { GraphBackend } from '../../backends/backend.js';
import { InvalidArgumentError } from '../../errors.js';
import { ContextLimitError } from '../../graphs/errors.js';
import { tensorRole } from '../../graphs/names.js';
import { Engine } from '../engine/engine.js';
import type { EngineOptions } from '../engine/options.js';
import { TensorRanges } from './ranges.js';
import { RangeRecordingBackend } from './recording-backend.js';

export interface CalibrationRun {
  /** Token sequences; each one starts from an empty cache. Longer than `contextSize` is an error. */
  readonly prompts: readonly (readonly number[])[];
  /** Greedy decode steps after each prompt (fewer when the context fills up first). */
  readonly decodeSteps: number;
  /**
   * The model's float32 embedding table: a tensor fed with raw embedding rows (the input_embeds role:
   * `input_embeds` or a split-embedding Gather output) can receive any row, so its range covers all.
   */
  readonly embeddingTable?: Float32Array;
}

/**
 * Runs `run` on the float32 model behind `backend` and returns the range of every float IO tensor,
 * over whole tensors as the graphs read and wrote them (padded rows and empty KV slots included).
 * The backend is disposed before this returns.
 * @throws InvalidArgumentError for an empty prompt list, an empty or too long prompt, a bad step
 * count, or a non-float32 model.
 * @throws ContextLimitError when a prompt does not fit the model's variants.
 */
export async function calibrateIoRanges(backend: GraphBackend, engineOptions: EngineOptions, run: CalibrationRun): Promise<TensorRanges> {
  const ranges = new TensorRanges();
  try {
    checkRun(run, engineOptions.contextSize);
    const engine = Engine.create(new RangeRecordingBackend(backend, ranges), engineOptions);
    const scratch = new Float32Array(engine.vocabSize);
    for (const prompt of run.prompts) {
      engine.reset();
      let logits = (await engine.prefill(prompt))!;
      for (let step = 0; step < run.decodeSteps; step++) {
        try {
          logits = await engine.decode(logits.dequantizeInto(scratch));
        } catch (error) {
          // The context is full (the planner checks before anything runs): this prompt is done.
          if (error instanceof ContextLimitError) break;
          throw error;
        }
      }
    }
    if (run.embeddingTable !== undefined) observeEmbeddings(ranges, backend, run.embeddingTable, engineOptions.cacheGroups);
    return ranges;
  } finally {
    await backend.dispose();
  }
}

function checkRun(run: CalibrationRun, contextSize: number): void {
  if (run.prompts.length === 0) throw new InvalidArgumentError('calibration prompts must not be empty');
  run.prompts.forEach((prompt, i) => {
    if (prompt.length === 0 || prompt.length > contextSize) {
      throw new InvalidArgumentError(`calibration prompts[${i}] has ${prompt.length} tokens, expected 1..${contextSize} (the context size)`);
    }
  });
  if (!Number.isSafeInteger(run.decodeSteps) || run.decodeSteps < 0) {
    throw new InvalidArgumentError(`decodeSteps must be a non-negative integer, got ${run.decodeSteps}`);
  }
}

function observeEmbeddings(ranges: TensorRanges, backend: GraphBackend, table: Float32Array, cacheGroups?: readonly string[]): void {
  const names = new Set<string>();
  for (const graph of backend.graphs) {
    for (const t of graph.inputs) if (tensorRole(t.name, cacheGroups).kind === 'input_embeds') names.add(t.name);
  }
  for (const name of names) ranges.observe(name, table);
}

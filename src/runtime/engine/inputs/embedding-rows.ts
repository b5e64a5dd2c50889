import { InvalidArgumentError } from '../../../errors.js';
import type { IoTensor, ModelLayout } from '../../../graphs/layout.js';
import { isFixedPoint, type ElementArray } from '../../../tensor/dtype.js';
import { quantize } from '../../../tensor/quant.js';
import type { EmbeddingTable, EmbeddingTarget } from '../../embeddings/lut.js';
import { copyEmbeddingRows } from '../../embeddings/rows.js';
import type { EngineStep } from '../step.js';
import type { InputPart, InputPartContext } from './input-part.js';

/**
 * `input_embeds` of a model whose host embeds tokens (Genie's `embedding` block): rows of the fed
 * sequence `tokens ++ rows`, token ids looked up in the LUT and caller rows requantized into the
 * input's encoding; unused rows hold the LUT's EOS row, or the input's code for 0.0 without a LUT
 * (they are masked, so their content cannot change any valid row's result).
 */
class EmbeddingRowsPart implements InputPart {
  readonly name = 'embedding rows';
  readonly tensors: readonly IoTensor[];
  private readonly target: EmbeddingTarget;
  /** Pads unused rows when there is no LUT: the input's code for 0.0. */
  private readonly zeroCode: number;

  constructor(
    tensor: IoTensor,
    private readonly input: ElementArray,
    private readonly rowElements: number,
    private readonly table: EmbeddingTable | undefined,
    private readonly eosToken: number,
  ) {
    this.tensors = [tensor];
    this.target = { data: input, dtype: tensor.dtype, encoding: tensor.encoding };
    this.zeroCode = isFixedPoint(tensor.dtype) && tensor.encoding ? quantize(0, tensor.encoding, tensor.dtype) : 0;
  }

  fill(step: EngineStep): void {
    const { tokens, rows, start, nNew } = step;
    const ar = step.variant.ar;
    const table = this.table;
    if (rows === null) {
      // Only an ids-feeding query reaches here, and the engine admits those only with a LUT.
      table!.writeRows(tokens, start, nNew, ar, this.eosToken, this.target);
      return;
    }
    const lead = tokens.length;
    let row = 0;
    for (; row < nNew && start + row < lead; row++) table!.writeRow(tokens[start + row], row, this.target);
    if (row < nNew) copyEmbeddingRows(rows, start + row - lead, this.target, row, nNew - row, this.rowElements);
    if (nNew >= ar) return;
    if (table) {
      for (let r = nNew; r < ar; r++) table.writeRow(this.eosToken, r, this.target);
    } else {
      this.input.fill(this.zeroCode, nNew * this.rowElements, ar * this.rowElements);
    }
  }
}

export function embeddingRowsPart({ layout, buffers, options }: InputPartContext): InputPart | undefined {
  const input = layout.input;
  if (input.kind !== 'embeddings') return undefined;
  if (options.embeddings !== undefined) {
    checkEmbeddings(options.embeddings, layout);
  } else if (options.embeddingCallback === true) {
    checkInputDtype(input.tensor);
  } else {
    throw new InvalidArgumentError(
      `the first graph takes "${input.tensor.name}" but the config has no embedding LUT (dialog.embedding)`,
    );
  }
  return new EmbeddingRowsPart(input.tensor, buffers.view(input.tensor), input.rowElements, options.embeddings, options.eosToken);
}

/** Without a LUT, rows come from the caller: the input must be a dtype they can be converted into. */
function checkInputDtype(tensor: IoTensor): void {
  const { dtype, encoding } = tensor;
  if (dtype !== 'FLOAT_32' && dtype !== 'FLOAT_16' && !(isFixedPoint(dtype) && encoding !== undefined)) {
    throw new InvalidArgumentError(
      `embedding input "${tensor.name}" is ${dtype}${isFixedPoint(dtype) ? ' without an encoding' : ''}: ` +
        'rows can only be written to FLOAT_32, FLOAT_16 or fixed point with an encoding',
    );
  }
}

/** The LUT must fill the model's embedding input: same row width, every token of the vocabulary, a supported dtype. */
function checkEmbeddings(table: EmbeddingTable, layout: ModelLayout): void {
  const input = layout.input as Extract<ModelLayout['input'], { kind: 'embeddings' }>;
  if (table.size !== input.rowElements) {
    throw new InvalidArgumentError(
      `the embedding LUT's size ${table.size} does not match the ${input.rowElements} elements per row of "${input.tensor.name}"`,
    );
  }
  if (table.nVocab < layout.vocabSize) {
    throw new InvalidArgumentError(`the embedding LUT has ${table.nVocab} rows, fewer than the model's vocabulary ${layout.vocabSize}`);
  }
  table.checkTarget(input.tensor);
}

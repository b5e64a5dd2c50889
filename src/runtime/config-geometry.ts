import { ModelLayoutError } from '../graphs/errors.js';
import type { ModelLayout } from '../graphs/layout.js';
import { mainEngine } from './config/derive.js';
import { dialogBody, isDialogRoot, type GenieConfig } from './config/types.js';

/**
 * Checks what a dialog config states about the model's shape against the binaries, at load. Genie
 * computes with these values; genie-ts reads the same facts from the tensors, so a config that
 * disagrees with its binaries is refused instead of being silently overruled. Only keys the config
 * sets are checked (an absent key, or `kv-dim: -1`, means "deduce from the tensors"):
 * - `context.n-vocab` (mandatory): the width of the logits rows, the model's vocabulary (the
 *   config's token ids are checked below n-vocab by the schema, so they are ids of the model too);
 * - QnnHtp `kv-dim`: the head_dim of the KV tensors;
 * - `positional-encoding.rope-dim` or QnnHtp `pos-id-dim`: the width of `position_ids_cos` rows
 *   (head_dim / 2), when the graphs take RoPE tables;
 * - `context.n-embd`: the hidden size, when the graphs show it;
 * - `embedding` (present at all): the model must take embedding rows, and `embedding.size` must be
 *   their width.
 * @throws ModelLayoutError naming the key, its value and the tensor that disagrees.
 */
export function checkConfigGeometry(config: GenieConfig, layout: ModelLayout): void {
  if (!isDialogRoot(config)) return;
  const root = config.root;
  const dialog = dialogBody(config);
  const engineKey = Array.isArray(dialog.engine) ? `${root}.engine[${dialog.engine.indexOf(mainEngine(dialog.engine))}]` : `${root}.engine`;
  const engine = mainEngine(dialog.engine);
  const htp = engine.backend.QnnHtp;

  const nVocab = dialog.context['n-vocab'];
  if (nVocab !== layout.vocabSize) {
    throw new ModelLayoutError(
      `${root}.context.n-vocab = ${nVocab}, but "${layout.logits.name}" rows hold ${layout.vocabSize} logits (its last dimension)`,
    );
  }

  const kvDim = htp?.['kv-dim'];
  const kv = layout.kv[0];
  if (kvDim !== undefined && kvDim !== -1 && kv !== undefined && kvDim !== kv.key.headDim) {
    throw new ModelLayoutError(`${engineKey}.backend.QnnHtp.kv-dim = ${kvDim}, but "${kv.key.in}" has head_dim ${kv.key.headDim}`);
  }

  const encoding = engine.model['positional-encoding'];
  const ropeDim = encoding?.['rope-dim'] ?? htp?.['pos-id-dim'];
  const ropeKey = encoding?.['rope-dim'] !== undefined ? `${engineKey}.model.positional-encoding.rope-dim` : `${engineKey}.backend.QnnHtp.pos-id-dim`;
  if (ropeDim !== undefined && layout.ropeDim !== undefined && layout.positionCos !== undefined && ropeDim !== layout.ropeDim) {
    throw new ModelLayoutError(
      `${ropeKey} = ${ropeDim}, but "${layout.positionCos.name}" rows hold ${layout.ropeDim} frequencies (head_dim / 2)`,
    );
  }

  const nEmbd = dialog.context['n-embd'];
  if (nEmbd !== undefined && layout.hiddenSize !== undefined && nEmbd !== layout.hiddenSize) {
    throw new ModelLayoutError(`${root}.context.n-embd = ${nEmbd}, but the model's hidden size is ${layout.hiddenSize}`);
  }

  const embedding = dialog.embedding;
  if (embedding === undefined) return;
  const input = layout.input;
  if (input.kind === 'ids') {
    throw new ModelLayoutError(
      `${root}.embedding is set, but the model takes token ids ("${input.tensor.name}"): it has no use for embedding rows or a LUT`,
    );
  }
  if (embedding.size !== input.rowElements) {
    throw new ModelLayoutError(`${root}.embedding.size = ${embedding.size}, but "${input.tensor.name}" takes rows of ${input.rowElements} elements`);
  }
}

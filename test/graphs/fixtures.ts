/**
 * Synthetic compiled-model bundles in AI Hub's IO conventions
 * (docs/genie-behaviour.md#ai-hub-export-io): the test states the model parameters and derives
 * every expectation from them, independently of src/graphs.
 */
import type { GraphSpec, TensorSpec } from '../../src/graphs/spec.js';
import type { DataTypeName, Encoding } from '../../src/tensor/dtype.js';

export interface BundleOptions {
  readonly ars?: readonly number[];
  readonly cls?: readonly number[];
  /** Total parts per variant, embedding and LM-head parts included. */
  readonly splits?: number;
  readonly layers?: number;
  readonly kvHeads?: number;
  readonly headDim?: number;
  readonly hidden?: number;
  readonly vocab?: number;
  /** Part 1 is the embedding Gather only (AI Hub `split_embedding`). */
  readonly embeddingPart?: boolean;
  /** The last part is norm + LM head only (logits, no KV). */
  readonly lmHeadPart?: boolean;
  /** What the first part takes. */
  readonly input?: 'ids' | 'input_embeds' | 'inputs_embeds' | '_model_embedding_concat_Concat_Concat_output_0';
  readonly mode?: 'concat' | 'scatter';
  /** One KV tensor per head: `past_key_{l}_h{h}_in`. */
  readonly perHead?: boolean;
  readonly kvPrefix?: string;
  /** ARs whose last part outputs KV only (Genie's DECODER_PREFILL). */
  readonly prefillOnlyArs?: readonly number[];
  /** Omit the attention mask (AR/CL must then come from KV shapes). */
  readonly noMask?: boolean;
  readonly name?: (ar: number, cl: number, part: number, parts: number) => string;
}

export const aiHubName = (ar: number, cl: number, i: number, n: number): string =>
  `${ar === 1 ? 'token' : 'prompt'}_ar${ar}_cl${cl}_${i}_of_${n}`;

export const U8_KV: Encoding = { scale: 0.05, offset: -128 };
export const U16_MASK: Encoding = { scale: 50 / 65535, offset: -65535 };
export const U16_ROPE: Encoding = { scale: 2 / 65535, offset: -32768 };
export const U16_HIDDEN: Encoding = { scale: 0.001, offset: -30000 };
export const U16_LOGITS: Encoding = { scale: 0.0025, offset: -31000 };

const t = (name: string, dtype: DataTypeName, shape: number[], encoding?: Encoding): TensorSpec =>
  encoding === undefined ? { name, dtype, shape } : { name, dtype, shape, encoding };

/** Name of the hidden state leaving a part that ends after `layer` (ONNX-internal style, AR-independent). */
export const hiddenName = (lastLayer: number): string =>
  lastLayer < 0 ? '_model_embed_tokens_Gather_output_0' : `_model_layers_${lastLayer}_Add_1_output_0`;

export interface Bundle {
  readonly graphs: GraphSpec[];
  /** Decoder parts' layers: `layersOf[p]` lists the layers of part index p (0-based). */
  readonly layersOf: number[][];
  readonly options: Required<Omit<BundleOptions, 'name'>>;
}

export function bundle(opts: BundleOptions = {}): Bundle {
  const o = {
    ars: [1, 128], cls: [4096], splits: 3, layers: 4, kvHeads: 2, headDim: 8, hidden: 16, vocab: 50,
    embeddingPart: false, lmHeadPart: false, input: 'ids', mode: 'concat', perHead: false, kvPrefix: 'past_',
    prefillOnlyArs: [], noMask: false, ...opts,
  } as Required<Omit<BundleOptions, 'name'>>;
  const name = opts.name ?? aiHubName;
  const first = o.embeddingPart ? 1 : 0;
  const decoderParts = o.splits - first - (o.lmHeadPart ? 1 : 0);
  const layersOf: number[][] = Array.from({ length: o.splits }, () => []);
  for (let l = 0; l < o.layers; l++) layersOf[first + Math.floor((l * decoderParts) / o.layers)].push(l);

  const graphs: GraphSpec[] = [];
  for (const cl of o.cls) {
    for (const ar of o.ars) {
      const past = o.mode === 'concat' ? cl - ar : cl;
      let incoming: TensorSpec | undefined;
      for (let p = 0; p < o.splits; p++) {
        const inputs: TensorSpec[] = [];
        const outputs: TensorSpec[] = [];
        if (p === 0) inputs.push(modelInput(o, ar));
        else inputs.push(incoming!);
        const isEmbedding = o.embeddingPart && p === 0;
        const isLmHead = o.lmHeadPart && p === o.splits - 1;
        if (!isEmbedding && !isLmHead) {
          if (!o.noMask) inputs.push(t('attention_mask', 'UFIXED_POINT_16', [1, 1, ar, cl], U16_MASK));
          inputs.push(t('position_ids_cos', 'UFIXED_POINT_16', [1, 1, ar, o.headDim / 2], U16_ROPE));
          inputs.push(t('position_ids_sin', 'UFIXED_POINT_16', [1, 1, ar, o.headDim / 2], U16_ROPE));
          if (o.mode === 'scatter') inputs.push(t('cache_index', 'INT_32', [ar]));
          for (const l of layersOf[p]) {
            for (const [prefix, heads] of kvNames(o, l)) {
              const enc = (k: 'key' | 'value'): Encoding => ({ scale: (k === 'key' ? 0.01 : 0.02) * (l + 1), offset: -128 });
              inputs.push(t(`${prefix.key}_in`, 'UFIXED_POINT_8', [heads, 1, o.headDim, past], enc('key')));
              inputs.push(t(`${prefix.value}_in`, 'UFIXED_POINT_8', [heads, 1, past, o.headDim], enc('value')));
              outputs.push(t(`${prefix.key}_out`, 'UFIXED_POINT_8', [heads, 1, o.headDim, ar], enc('key')));
              outputs.push(t(`${prefix.value}_out`, 'UFIXED_POINT_8', [heads, 1, ar, o.headDim], enc('value')));
            }
          }
        }
        const last = p === o.splits - 1;
        if (last && !o.prefillOnlyArs.includes(ar)) {
          outputs.unshift(t('logits', 'UFIXED_POINT_16', [1, ar, o.vocab], U16_LOGITS));
        } else if (!last) {
          const lastLayer = layersOf.slice(0, p + 1).flat().at(-1) ?? -1;
          incoming = t(hiddenName(lastLayer), 'UFIXED_POINT_16', [1, ar, o.hidden], U16_HIDDEN);
          outputs.unshift(incoming);
        }
        graphs.push({ name: name(ar, cl, p + 1, o.splits), ctxBin: p, inputs, outputs });
      }
    }
  }
  return { graphs, layersOf, options: o };
}

function modelInput(o: Required<Omit<BundleOptions, 'name'>>, ar: number): TensorSpec {
  if (o.input === 'ids') return t('input_ids', 'INT_32', [1, ar]);
  const width = o.input === '_model_embedding_concat_Concat_Concat_output_0' ? 2 * o.hidden : o.hidden;
  return t(o.input, 'UFIXED_POINT_16', [1, ar, width], U16_HIDDEN);
}

function kvNames(o: Required<Omit<BundleOptions, 'name'>>, l: number): [{ key: string; value: string }, number][] {
  const p = o.kvPrefix;
  if (!o.perHead) return [[{ key: `${p}key_${l}`, value: `${p}value_${l}` }, o.kvHeads]];
  return Array.from({ length: o.kvHeads }, (_, h) => [{ key: `${p}key_${l}_h${h}`, value: `${p}value_${l}_h${h}` }, 1]);
}

/** Replaces one tensor (input or output, by name) of one graph. */
export function withTensor(graphs: readonly GraphSpec[], graph: string, tensor: string, edit: (t: TensorSpec) => TensorSpec | undefined): GraphSpec[] {
  let found = false;
  const out = graphs.map((g) => {
    if (g.name !== graph) return g;
    const map = (list: readonly TensorSpec[]): TensorSpec[] =>
      list.flatMap((x) => {
        if (x.name !== tensor) return [x];
        found = true;
        const y = edit(x);
        return y === undefined ? [] : [y];
      });
    return { ...g, inputs: map(g.inputs), outputs: map(g.outputs) };
  });
  if (!found) throw new Error(`fixture: no tensor ${tensor} in graph ${graph}`);
  return out;
}

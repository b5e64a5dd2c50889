import type { DataTypeName, Encoding } from '../tensor/dtype.js';
import type { KvMode } from '../kv/kv-cache.js';
import type { GraphInfo, GraphKind } from './classify.js';
import type { GraphSpec } from './spec.js';

/** A tensor role as the whole model sees it (shapes vary with AR; dtype and encoding do not). */
export interface IoTensor {
  readonly name: string;
  readonly dtype: DataTypeName;
  readonly encoding?: Encoding;
}

/** What the first part of every variant takes. */
export type ModelInput =
  | { readonly kind: 'ids'; readonly tensor: IoTensor }
  | {
    readonly kind: 'embeddings';
    readonly tensor: IoTensor;
    /** Elements per token row (last dim); twice the hidden size for the split-embedding Concat input. */
    readonly rowElements: number;
  };

/** One (AR, CL) instantiation of the model: its parts run in order for each step. */
export interface Variant {
  /** `ar<AR>_cl<CL>`, unique within a layout. */
  readonly id: string;
  readonly ar: number;
  readonly cl: number;
  /** KV-in past dim: CL - AR (concat) or CL (scatter). */
  readonly pastDim: number;
  /** In split order (`_1_of_N`, `_2_of_N`, ... compared as numbers). */
  readonly parts: readonly GraphSpec[];
  /** Kind of each part, same order as `parts` (e.g. skip an `lm-head` part on non-final prefill steps). */
  readonly kinds: readonly GraphKind[];
  /** The last part outputs logits; otherwise (prefill-only) the planner ends the query on another variant. */
  readonly hasLogits: boolean;
  /** Token rows in the logits output (AR, or 1 for a last-position-only head); 0 without logits. */
  readonly logitsRows: number;
}

/** One KV tensor (key or value) of a slot, shared by every variant. */
export interface KvTensorSpec {
  readonly in: string;
  readonly out: string;
  /** Name of the `[in | out]` buffer region (the tensor name without `_in`/`_out`). */
  readonly region: string;
  readonly dtype: DataTypeName;
  readonly encoding?: Encoding;
  /** Product of the dims before the last two (kv_heads; 1 for per-head tensors). */
  readonly heads: number;
  readonly headDim: number;
}

/** A KV layer, or one head of a layer for per-head tensors (`past_key_3_h5_in`). */
export interface KvSlotSpec {
  /** Cache-group prefix, e.g. `past_`. */
  readonly group: string;
  readonly layer: number;
  readonly head: number | undefined;
  /** Index into `Variant.parts` of the part that reads and writes this slot (the same in every variant). */
  readonly part: number;
  readonly key: KvTensorSpec;
  readonly value: KvTensorSpec;
}

/** A graph outside the decoder variants (VLM). */
export interface VisionGraph {
  readonly kind: 'image-encoder' | 'projector';
  readonly graph: GraphSpec;
}

/** Everything the runtime needs to know about a bundle of compiled graphs, independent of the backend. */
export interface ModelLayout {
  /** Sorted by CL, then AR. */
  readonly variants: readonly Variant[];
  /** Distinct CLs, ascending. */
  readonly contextLengths: readonly number[];
  readonly maxContextLength: number;
  /** Parts per variant. */
  readonly splitCount: number;
  readonly kvMode: KvMode;
  /** Sorted by cache group (in `cacheGroups` order), layer, head. */
  readonly kv: readonly KvSlotSpec[];
  readonly input: ModelInput;
  /** Width of the hidden state; undefined for a single-part model fed with ids. */
  readonly hiddenSize: number | undefined;
  /** Last dim of `logits`. */
  readonly vocabSize: number;
  readonly logits: IoTensor;
  readonly attentionMask: IoTensor | undefined;
  readonly positionCos: IoTensor | undefined;
  readonly positionSin: IoTensor | undefined;
  readonly positionIds: IoTensor | undefined;
  readonly cacheIndex: IoTensor | undefined;
  /** Last dim of `position_ids_cos` (head_dim / 2 for AI Hub exports). */
  readonly ropeDim: number | undefined;
  /** Tensors one part outputs and the next part takes (hidden-state handoff). */
  readonly hiddenStates: readonly string[];
  readonly visionGraphs: readonly VisionGraph[];
  readonly cacheGroups: readonly string[];
  /** Classification of every graph, by graph name (for inspection and the buffer plan). */
  readonly graphs: ReadonlyMap<string, GraphInfo>;
}

/**
 * Tensor names of reference ctx-bins: graph IO as AI Hub exports it (research/genie.md §4.2-4.3) and
 * weights in Hugging Face Qwen2 naming. The executor recognises only these few roles itself; the
 * hidden-state handoff between parts may have any other name.
 */
export const INPUT_IDS = 'input_ids';
export const INPUT_EMBEDS = 'input_embeds';
export const ATTENTION_MASK = 'attention_mask';
export const POSITION_COS = 'position_ids_cos';
export const POSITION_SIN = 'position_ids_sin';
export const LOGITS = 'logits';

export const pastKeyIn = (layer: number): string => `past_key_${layer}_in`;
export const pastValueIn = (layer: number): string => `past_value_${layer}_in`;
export const pastKeyOut = (layer: number): string => `past_key_${layer}_out`;
export const pastValueOut = (layer: number): string => `past_value_${layer}_out`;

const PAST_KV = /^past_(key|value)_\d+_(in|out)$/;
export const isPastKv = (name: string): boolean => PAST_KV.test(name);

/** Output of a separate embedding part (one of the split-embedding names Genie accepts). */
export const EMBEDDING_OUTPUT = '_model_embed_tokens_Gather_Gather_output_0';
/** Residual stream after decoder layer `layer`, handed to the next part (ONNX node naming). */
export const layerOutput = (layer: number): string => `_model_layers_${layer}_Add_1_output_0`;

/**
 * Graph names: AI Hub's `token_ar1_cl{CL}_{i}_of_{N}` / `prompt_ar{AR}_cl{CL}_{i}_of_{N}`, or the
 * neutral `ar{AR}_cl{CL}_{i}_of_{N}`.
 */
export type GraphNaming = 'ai-hub' | 'neutral';

export function graphName(naming: GraphNaming, ar: number, cl: number, part: number, parts: number): string {
  const stem = `ar${ar}_cl${cl}_${part}_of_${parts}`;
  if (naming === 'neutral') return stem;
  return `${ar === 1 ? 'token' : 'prompt'}_${stem}`;
}

export const EMBED_TOKENS = 'model.embed_tokens.weight';
export const FINAL_NORM = 'model.norm.weight';
export const LM_HEAD = 'lm_head.weight';

/** Hugging Face names of one Qwen2 decoder layer's weights. */
export function layerWeightNames(layer: number) {
  const p = `model.layers.${layer}`;
  return {
    inputNorm: `${p}.input_layernorm.weight`,
    qWeight: `${p}.self_attn.q_proj.weight`,
    qBias: `${p}.self_attn.q_proj.bias`,
    kWeight: `${p}.self_attn.k_proj.weight`,
    kBias: `${p}.self_attn.k_proj.bias`,
    vWeight: `${p}.self_attn.v_proj.weight`,
    vBias: `${p}.self_attn.v_proj.bias`,
    oWeight: `${p}.self_attn.o_proj.weight`,
    postNorm: `${p}.post_attention_layernorm.weight`,
    gateWeight: `${p}.mlp.gate_proj.weight`,
    upWeight: `${p}.mlp.up_proj.weight`,
    downWeight: `${p}.mlp.down_proj.weight`,
  } as const;
}

export type LayerWeightKey = keyof ReturnType<typeof layerWeightNames>;

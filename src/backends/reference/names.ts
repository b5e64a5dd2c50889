/**
 * Names only reference ctx-bins use: the hidden-state handoff between parts (any name is valid there;
 * these follow the ONNX node naming of AI Hub's exports) and the weights in Hugging Face naming
 * (Qwen2 and Llama: separate projections; Phi-3: fused `qkv_proj` and `gate_up_proj`). Graph IO names and graph names come from `graphs/names.ts`.
 */

/** Residual stream after decoder layer `layer`, handed to the next part (ONNX node naming). */
export const layerOutput = (layer: number): string => `_model_layers_${layer}_Add_1_output_0`;

export const EMBED_TOKENS = 'model.embed_tokens.weight';
export const FINAL_NORM = 'model.norm.weight';
export const LM_HEAD = 'lm_head.weight';

/** Hugging Face names of one decoder layer's weights, every architecture's (each uses a subset, model.ts). */
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
    qkvWeight: `${p}.self_attn.qkv_proj.weight`,
    gateUpWeight: `${p}.mlp.gate_up_proj.weight`,
  } as const;
}

export type LayerWeightKey = keyof ReturnType<typeof layerWeightNames>;

/**
 * Sampling parameters in Genie's meaning (docs/genie-behaviour.md#sampler-defaults-and-greedy), as
 * plain numbers. The config module derives them from a `sampler` block (applying Genie's defaults);
 * the sampler consumes them.
 */
export interface SamplerParams {
  /** `basic` = Genie's chain; `custom` = a registered callback receives dequantized float32 logits. */
  readonly type: 'basic' | 'custom';
  /** Name of the registered custom callback (type `custom` only). */
  readonly callbackName?: string;
  /** uint32 seed of the RNG (Genie seeds from the clock when the config says -1). */
  readonly seed: number;
  /** Softmax temperature; <= 0 means greedy. Genie default 0.1. */
  readonly temp: number;
  /** Keep the k most likely tokens; 0 = off. 1 means greedy. Genie default 0. */
  readonly topK: number;
  /** Nucleus mass in [0, 1]; 1 = off, 0 keeps the best token alone. Genie default 0.8. */
  readonly topP: number;
  /** Extension (not in Genie): drop tokens with p < minP * p_max; 0 = off. */
  readonly minP: number;
  /** Derived, never configured: `temp <= 0 || topK == 1`. */
  readonly greedy: boolean;
  /** Penalty window over the last n tokens (prompt included); 0 disables penalties. */
  readonly penalizeLastN: number;
  readonly repetitionPenalty: number;
  readonly presencePenalty: number;
  readonly frequencyPenalty: number;
}

/**
 * Hugging Face transformers' RoPE initialisers (modeling_rope_utils.py), transcribed for use as oracles.
 * They use the HF forms on purpose: frequencies over head_dim with a step of 2, llama3 with its
 * torch.where masks, longrope as 1 / (ext_factor * base^x), linear scaling as positions / factor.
 */

/** `_compute_default_rope_parameters`: inv_freq = 1 / base^(arange(0, dim, 2) / dim). */
export function hfDefaultInvFreq(headDim: number, base: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < headDim; i += 2) out.push(1 / base ** (i / headDim));
  return out;
}

/** `_compute_llama3_parameters`. */
export function hfLlama3InvFreq(
  headDim: number,
  base: number,
  cfg: { factor: number; lowFreqFactor: number; highFreqFactor: number; originalMaxPositionEmbeddings: number },
): number[] {
  const { factor, lowFreqFactor, highFreqFactor, originalMaxPositionEmbeddings: oldContextLen } = cfg;
  const lowFreqWavelen = oldContextLen / lowFreqFactor;
  const highFreqWavelen = oldContextLen / highFreqFactor;
  return hfDefaultInvFreq(headDim, base).map((invFreq) => {
    const wavelen = (2 * Math.PI) / invFreq;
    const invFreqLlama = wavelen > lowFreqWavelen ? invFreq / factor : invFreq;
    const smoothFactor = (oldContextLen / wavelen - lowFreqFactor) / (highFreqFactor - lowFreqFactor);
    const smoothed = ((1 - smoothFactor) * invFreqLlama) / factor + smoothFactor * invFreqLlama;
    const isMediumFreq = !(wavelen < highFreqWavelen) && !(wavelen > lowFreqWavelen);
    return isMediumFreq ? smoothed : invFreqLlama;
  });
}

/** `_compute_longrope_parameters` (seq_len = the context length the table covers). */
export function hfLongropeParameters(
  headDim: number,
  base: number,
  seqLen: number,
  cfg: { factor: number; shortFactor: number[]; longFactor: number[]; originalMaxPositionEmbeddings: number },
): { invFreq: number[]; attentionFactor: number } {
  const extFactors = seqLen > cfg.originalMaxPositionEmbeddings ? cfg.longFactor : cfg.shortFactor;
  const invFreq: number[] = [];
  for (let i = 0; i < headDim; i += 2) invFreq.push(1 / (extFactors[i / 2] * base ** (i / headDim)));
  const attentionFactor =
    cfg.factor <= 1 ? 1 : Math.sqrt(1 + Math.log(cfg.factor) / Math.log(cfg.originalMaxPositionEmbeddings));
  return { invFreq, attentionFactor };
}

/** Naive double loop: value[p][j] = f(angle(p, j)) * attentionFactor, with angle = positionScale(p) * invFreq[j]. */
export function naiveTable(
  contextLength: number,
  invFreq: readonly number[],
  f: (angle: number) => number,
  attentionFactor = 1,
  position: (p: number) => number = (p) => p,
): number[][] {
  const rows: number[][] = [];
  for (let p = 0; p < contextLength; p++) {
    const row: number[] = [];
    for (let j = 0; j < invFreq.length; j++) row.push(f(position(p) * invFreq[j]) * attentionFactor);
    rows.push(row);
  }
  return rows;
}

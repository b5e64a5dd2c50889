import type { ContextConfig } from './schema/context.js';

export interface EosTokens {
  /** Every token that ends generation, primary first, no repeats. */
  readonly eosTokens: number[];
  /** The EOS the dialog appends between turns and the default pad token. */
  readonly primaryEos: number;
  /** `pad-token`, else the primary EOS. */
  readonly padToken: number;
}

/**
 * The EOS set from `eos-token` (scalar or array) and `eot-token`. As qualla does, a scalar
 * `eos-token` with an `eot-token` makes EOT the primary EOS; the array form keeps its first entry.
 */
export function deriveEos(context: ContextConfig): EosTokens {
  const eos = context['eos-token'];
  const eot = context['eot-token'] ?? -1;
  const listed = Array.isArray(eos) ? eos : [eos];
  const primaryEos = !Array.isArray(eos) && eot >= 0 ? eot : listed[0];
  const eosTokens = [...new Set([primaryEos, ...listed, ...(eot >= 0 ? [eot] : [])])];
  return { eosTokens, primaryEos, padToken: context['pad-token'] ?? primaryEos };
}

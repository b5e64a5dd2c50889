import type { EngineConfig } from './schema/engine.js';
import type { RopeScaling } from '../../rope/inv-freq.js';
import { DEFAULT_ROPE_DIM, DEFAULT_ROPE_THETA, type RopeScalingConfig } from './schema/model.js';

export type { RopeScaling };

export interface PositionalEncoding {
  readonly type: 'rope' | 'absolute' | 'alibi';
  /** Number of rotary frequencies (head_dim / 2). */
  readonly ropeDim: number;
  readonly theta: number;
  readonly scaling: RopeScaling;
  /** Where the values came from: QnnHtp `pos-id-dim`/`rope-theta`, `model.positional-encoding`, or neither. */
  readonly source: 'legacy' | 'positional-encoding' | 'default';
}

/**
 * The scaling of a config that passed the runnable checks, which make sure the keys its rope-type
 * needs are there (a config missing one is refused before this runs). Keys of another rope-type are
 * ignored, as Genie ignores them.
 */
function normaliseScaling(scaling: RopeScalingConfig | undefined): RopeScaling {
  switch (scaling?.['rope-type']) {
    case undefined:
    case 'default':
      return { type: 'default' };
    case 'llama3':
      return {
        type: 'llama3',
        factor: scaling.factor!,
        lowFreqFactor: scaling['low-freq-factor']!,
        highFreqFactor: scaling['high-freq-factor']!,
        originalMaxPositionEmbeddings: scaling['original-max-position-embeddings']!,
      };
    case 'longrope':
      return {
        type: 'longrope',
        factor: scaling.factor ?? 1,
        shortFactor: scaling['short-factor']!,
        longFactor: scaling['long-factor']!,
        originalMaxPositionEmbeddings: scaling['original-max-position-embeddings']!,
      };
  }
}

/** RoPE parameters from either form (the schema guarantees at most one is present). */
export function derivePositionalEncoding(engine: EngineConfig): PositionalEncoding {
  const htp = engine.backend.QnnHtp;
  const encoding = engine.model['positional-encoding'];
  if (htp?.['pos-id-dim'] !== undefined || htp?.['rope-theta'] !== undefined) {
    return {
      type: 'rope',
      ropeDim: htp['pos-id-dim'] ?? DEFAULT_ROPE_DIM,
      theta: htp['rope-theta'] ?? DEFAULT_ROPE_THETA,
      scaling: { type: 'default' },
      source: 'legacy',
    };
  }
  if (encoding !== undefined) {
    return {
      type: encoding.type ?? 'rope',
      ropeDim: encoding['rope-dim'] ?? DEFAULT_ROPE_DIM,
      theta: encoding['rope-theta'] ?? DEFAULT_ROPE_THETA,
      scaling: normaliseScaling(encoding['rope-scaling']),
      source: 'positional-encoding',
    };
  }
  return { type: 'rope', ropeDim: DEFAULT_ROPE_DIM, theta: DEFAULT_ROPE_THETA, scaling: { type: 'default' }, source: 'default' };
}

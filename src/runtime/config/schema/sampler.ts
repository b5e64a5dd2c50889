import * as z from 'zod';
import { checkStageSpec, type SamplerStageSpec } from '../../../sampler/chain.js';
import {
  bool, finiteNumber, forbiddenWhen, integerInRange, leaf, nonNegativeInt, oneOf, positiveNumber, quoted, requiredWhen, text,
  versioned, withRules,
} from './values.js';

export const SAMPLER_TYPES = ['basic', 'custom'] as const;

const tokenPenaltySchema = versioned({
  'penalize-last-n': nonNegativeInt.optional(),
  /** Multiplicative (logit / rp, or * rp when <= 0), so 1 is neutral and 0 is meaningless. */
  'repetition-penalty': positiveNumber.optional(),
  'presence-penalty': finiteNumber.optional(),
  'frequency-penalty': finiteNumber.optional(),
});

/** Keys a custom sampler may not set: the callback receives the raw logits and does its own choosing. */
const BASIC_ONLY_KEYS = ['temp', 'top-k', 'top-p', 'greedy', 'min-p', 'stages'] as const;

/** The project's min-p extension: its range is genie-ts's own rule, an error like any Genie rule. */
const minP = leaf<number>('a number in [0, 1)', (v) => typeof v === 'number' && v >= 0 && v < 1);

/** The project's stages extension: the chain, each entry checked by the sampler's own spec check. */
const stages = leaf<readonly SamplerStageSpec[]>('a non-empty list of sampler stages (names or objects)', (v) => Array.isArray(v) && v.length > 0);

/**
 * `sampler` (docs/genie-behaviour.md#sampler-block), inside a dialog or as the standalone root.
 * Genie checks the type of each value, not its range; the custom / basic rules are its own.
 */
export const samplerSchema = withRules(
  versioned({
    /** Genie takes any string; "basic" and "custom" are the samplers there are. */
    type: oneOf(SAMPLER_TYPES, { genie: 'string' }).optional(),
    'callback-name': text.optional(),
    /** -1 (or absent) seeds from the clock; otherwise the uint32 seed of the RNG. */
    seed: integerInRange(-1, 0xffff_ffff, 'an integer in [-1, 4294967295] (-1 seeds from the clock)').optional(),
    /** <= 0 means greedy (Genie accepts negative values with that meaning). */
    temp: finiteNumber.optional(),
    'top-k': nonNegativeInt.optional(),
    /**
     * Any number: Genie keeps at least one token (p <= 0 keeps only the best) and skips the cut for
     * p >= 1 (docs/genie-behaviour.md#sampler-chain).
     */
    'top-p': finiteNumber.optional(),
    /** Accepted for compatibility; Genie overwrites it with `temp <= 0 || top-k == 1`. */
    greedy: bool.optional(),
    'token-penalty': tokenPenaltySchema.optional(),
    /** Project extension (PROJECT_EXTENSIONS): min-p filtering. */
    'min-p': minP.optional(),
    /** Project extension (PROJECT_EXTENSIONS): the sampler chain, in order (default Genie's). */
    stages: stages.optional(),
  }),
  (sampler, report) => {
    if (Array.isArray(sampler.stages)) {
      sampler.stages.forEach((entry: unknown, i: number) => {
        try {
          checkStageSpec(entry, 'stage');
        } catch (error) {
          report(['stages', i], (error as Error).message);
        }
      });
    }
    if (sampler.type === 'custom') {
      if (sampler['callback-name'] === undefined) report(['callback-name'], requiredWhen('type is "custom"'));
      for (const key of BASIC_ONLY_KEYS) {
        if (sampler[key] !== undefined) report([key], forbiddenWhen('type is "custom"', sampler[key]));
      }
    } else if (sampler.type !== undefined && sampler['callback-name'] !== undefined) {
      // Genie: a callback-name with an explicit type other than "custom" (none: the basic sampler ignores it).
      report(['callback-name'], forbiddenWhen(`type is ${quoted(sampler.type)} (only a "custom" sampler has a callback)`, sampler['callback-name']));
    }
  },
);

export type SamplerConfig = z.infer<typeof samplerSchema>;
export type TokenPenaltyConfig = z.infer<typeof tokenPenaltySchema>;

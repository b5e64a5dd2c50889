import { InvalidArgumentError } from '../errors.js';
import { checkInteger } from './checks.js';

/**
 * Fills a scatter model's `cache_index` input with `nValid, nValid + 1, ...` over all of `dst`
 * (padded rows included, as Genie does), so row i lands at KV-in position nValid + i.
 * Every index must stay inside KV-in: `nValid + dst.length <= contextLength`.
 */
export function fillCacheIndex(dst: Int32Array | Uint32Array, nValid: number, contextLength: number): void {
  checkInteger('contextLength', contextLength, 1, 2 ** 31 - 1);
  checkInteger('nValid', nValid, 0, contextLength);
  if (nValid + dst.length > contextLength) {
    throw new InvalidArgumentError(
      `nValid + dst.length = ${nValid} + ${dst.length} = ${nValid + dst.length} exceeds contextLength ${contextLength}`,
    );
  }
  for (let i = 0; i < dst.length; i++) dst[i] = nValid + i;
}

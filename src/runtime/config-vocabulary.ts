import { GenieError } from '../errors.js';
import { dialogBody, isDialogRoot, type GenieConfig } from './config/types.js';
import type { Tokenizer } from './tokenizer/tokenizer.js';

/** A token id of the config is not a token of its tokenizer; names the key, the id and the tokenizer. */
export class TokenizerMismatchError extends GenieError {
  constructor(message: string) {
    super('TOKENIZER_MISMATCH', message);
  }
}

/**
 * Checks the special tokens a dialog config names against its tokenizer, at load and before the
 * binaries are opened: `bos-token` (unless -1), every `eos-token` and `eot-token` (unless -1) must
 * be ids the tokenizer has (below its vocabulary size, added tokens included). An id past it is a
 * config written for another model: its BOS would feed a padding row of the embedding table, its
 * EOS a logit the model never produces, so generation would not stop. `pad-token` only fills unused
 * input rows and is checked against `n-vocab` by the schema alone. (Ids below `n-vocab` are ids of
 * the model: `n-vocab` is checked against the logits with the binaries, `checkConfigGeometry`.)
 * @throws TokenizerMismatchError naming the key, its value and the tokenizer's size.
 */
export function checkConfigTokenIds(config: GenieConfig, tokenizer: Pick<Tokenizer, 'vocabSize' | 'source'>): void {
  if (!isDialogRoot(config)) return;
  const context = dialogBody(config).context;
  const key = `${config.root}.context`;
  const eos = context['eos-token'];
  const named: Array<[string, number]> = [
    [`${key}.bos-token`, context['bos-token']],
    ...(Array.isArray(eos) ? eos.map((id, i): [string, number] => [`${key}.eos-token[${i}]`, id]) : [[`${key}.eos-token`, eos] as [string, number]]),
    [`${key}.eot-token`, context['eot-token'] ?? -1],
  ];
  for (const [path, id] of named) {
    if (id >= tokenizer.vocabSize) {
      throw new TokenizerMismatchError(
        `${path} = ${id}, but the tokenizer "${tokenizer.source}" has no token ${id} (its ids are 0 .. ${tokenizer.vocabSize - 1})`,
      );
    }
  }
}

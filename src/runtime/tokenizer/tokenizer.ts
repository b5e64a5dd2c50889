import { Tokenizer as HfTokenizer } from '@huggingface/tokenizers';
import { InvalidArgumentError } from '../../errors.js';
import { isPlainObject } from '../../formats/json.js';
import { TokenByteTable } from './byte-level.js';
import { TokenizerLoadError } from './errors.js';

/** Token ids are int32 in Genie and QNN; anything else is not an id. */
const MAX_TOKEN_ID = 0x7fffffff;

/** Throws unless `value` can be a token id (an integer in [0, 2^31)); `name` labels the message. */
export function checkTokenId(value: number, name: string): void {
  if (!Number.isInteger(value) || value < 0 || value > MAX_TOKEN_ID) {
    throw new InvalidArgumentError(`${name} = ${String(value)} is not a token id (expected an integer in [0, 2^31))`);
  }
}

/**
 * A Hugging Face `tokenizer.json` tokenizer with Genie's settings: encode adds no special tokens (special
 * tokens written in the text, such as `<|im_start|>`, are still recognised) and decode keeps special
 * tokens and does no clean-up of spaces (Genie runs the Rust `tokenizers` crate, which has none).
 * Ids with no token (e.g. the padding rows of a model's lm head beyond the tokenizer's vocabulary)
 * decode to nothing, as in the Rust crate.
 */
export class Tokenizer {
  /** Where the tokenizer came from (a file path or a label); used in error messages. */
  readonly source: string;
  /** Highest token id + 1, added tokens included. */
  readonly vocabSize: number;
  /** True when the decoder is ByteLevel, so every token maps to raw bytes (see `byteTable`). */
  readonly byteLevel: boolean;
  private readonly hf: HfTokenizer;
  private readonly vocab: ReadonlyArray<string | undefined>;
  private readonly addedIds: ReadonlySet<number>;
  private table: TokenByteTable | undefined;

  /**
   * @param tokenizerJson parsed tokenizer.json
   * @param tokenizerConfig parsed tokenizer_config.json, or `{}` when there is none
   * @param source file path or label named in errors
   */
  constructor(tokenizerJson: unknown, tokenizerConfig: unknown = {}, source = '<in-memory tokenizer.json>') {
    this.source = source;
    if (!isPlainObject(tokenizerJson)) {
      throw new TokenizerLoadError('TOKENIZER_INVALID', `${source} is not a Hugging Face tokenizer.json: the top level is not a JSON object`);
    }
    if (!isPlainObject(tokenizerJson.model)) {
      throw new TokenizerLoadError('TOKENIZER_INVALID', `${source} is not a Hugging Face tokenizer.json: it has no "model" object`);
    }
    if (tokenizerJson.added_tokens !== undefined && !Array.isArray(tokenizerJson.added_tokens)) {
      throw new TokenizerLoadError('TOKENIZER_INVALID', `${source} is not a Hugging Face tokenizer.json: "added_tokens" is not an array`);
    }
    if (!isPlainObject(tokenizerConfig)) {
      throw new TokenizerLoadError('TOKENIZER_INVALID', `tokenizer config for ${source} is not a JSON object`);
    }
    // tokenizer.json files written by older libraries may omit the optional stages; the library wants every key.
    const complete = {
      normalizer: null,
      pre_tokenizer: null,
      post_processor: null,
      decoder: null,
      added_tokens: [],
      ...tokenizerJson,
    };
    try {
      this.hf = new HfTokenizer(complete, tokenizerConfig);
    } catch (err) {
      const reason = err instanceof Error ? err.message : String(err);
      throw new TokenizerLoadError('TOKENIZER_INVALID', `${source} is not a usable Hugging Face tokenizer.json: ${reason}`, { cause: err });
    }
    const model = this.hf.model as unknown as { vocab: Array<string | undefined> };
    this.vocab = model.vocab;
    this.vocabSize = model.vocab.length;
    this.addedIds = new Set(this.hf.get_added_tokens_decoder().keys());
    const decoder = tokenizerJson.decoder;
    this.byteLevel = isPlainObject(decoder) && decoder.type === 'ByteLevel';
  }

  /** Token ids of `text`, no special tokens added. */
  encode(text: string): Int32Array {
    if (typeof text !== 'string') {
      throw new InvalidArgumentError(`text must be a string, got ${typeof text}`);
    }
    if (text.length === 0) return new Int32Array(0);
    return Int32Array.from(this.hf.encode(text, { add_special_tokens: false }).ids);
  }

  /** Text of `ids`, special tokens kept; ids with no token contribute nothing. */
  decode(ids: ArrayLike<number>): string {
    const known: number[] = [];
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i];
      checkTokenId(id, `ids[${i}]`);
      if (id < this.vocabSize && this.vocab[id] !== undefined) known.push(id);
    }
    if (known.length === 0) return '';
    return this.hf.decode(known, { skip_special_tokens: false, clean_up_tokenization_spaces: false });
  }

  /** Id of a token string (vocabulary or added token), or undefined. */
  tokenToId(token: string): number | undefined {
    if (typeof token !== 'string') {
      throw new InvalidArgumentError(`token must be a string, got ${typeof token}`);
    }
    return this.hf.token_to_id(token);
  }

  /** Token string of an id (byte-level tokens are in the byte alphabet, e.g. "Ġhello"), or undefined. */
  idToToken(id: number): string | undefined {
    checkTokenId(id, 'id');
    return id < this.vocabSize ? this.vocab[id] : undefined;
  }

  /** True for tokens listed in `added_tokens` (special tokens such as `<|im_end|>` among them). */
  isAddedToken(id: number): boolean {
    checkTokenId(id, 'id');
    return this.addedIds.has(id);
  }

  /** Raw bytes of every token when the decoder is ByteLevel (built on first use, ~20 ms); null otherwise. */
  byteTable(): TokenByteTable | null {
    if (!this.byteLevel) return null;
    this.table ??= new TokenByteTable(this.vocab, this.addedIds);
    return this.table;
  }
}

import { GenieError } from '../../errors.js';

/** Why a tokenizer file could not be loaded; `code` lets callers branch without parsing messages. */
export type TokenizerLoadErrorCode =
  | 'TOKENIZER_NOT_FOUND'
  | 'TOKENIZER_UNREADABLE'
  | 'TOKENIZER_INVALID_JSON'
  | 'TOKENIZER_INVALID';

/** A tokenizer.json (or the tokenizer_config.json beside it) is missing, unreadable, not JSON, or not a tokenizer. */
export class TokenizerLoadError extends GenieError {
  declare readonly code: TokenizerLoadErrorCode;
  constructor(code: TokenizerLoadErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
  }
}

export { Tokenizer, checkTokenId } from './tokenizer.js';
export { TokenByteTable } from './byte-level.js';
export { TokenizerLoadError, type TokenizerLoadErrorCode } from './errors.js';
export { readTokenizerFile, loadTokenizer } from './load.js';
export { demoTokenizerPath } from './demo.js';

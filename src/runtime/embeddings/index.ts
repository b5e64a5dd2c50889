export { EmbeddingTable, EmbeddingTableError, type EmbeddingTableOptions, type EmbeddingTarget } from './lut.js';
export { checkEmbeddingBytes } from './embedding-bytes.js';
export { allocateEmbeddingRows, checkEmbeddingRows, copyEmbeddingRows, type EmbeddingRows } from './rows.js';
export { loadConfigEmbeddings } from './from-config.js';

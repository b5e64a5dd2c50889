export { EmbeddingTable, EmbeddingTableError, type EmbeddingTableOptions, type EmbeddingTarget } from './lut.js';
export { checkEmbeddingBytes } from './embedding-bytes.js';
export { loadConfigEmbeddings } from './from-config.js';

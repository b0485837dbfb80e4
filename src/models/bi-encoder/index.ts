export { BiEncoder, type BiEncoderOptions, type BiEncoderBatch, type EmbedOptions } from './model.js';
export { pool, l2Normalize, parsePoolingConfig, poolingConfigJson, POOLING_MODES, type PoolingMode } from './pooling.js';
export { readSentenceTransformerLayout, type SentenceTransformerLayout, type Similarity } from './folder.js';

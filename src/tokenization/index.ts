// Tokenizers (HF tokenizer.json or a WordPiece vocab.txt) with pair encoding and truncation as
// transformers does it.
export { TextTokenizer, batchToTensors } from './tokenizer.js';
export type { EncodedBatch, BatchEncodeOptions, EncodeOptions, TokenizerOptions, TruncationStrategy } from './tokenizer.js';
export { ggufTokenizer, tokenizerFromGguf, readGgufTokenizer, GGUF_TOKEN_TYPE } from './gguf.js';
export type { GgufTokenizerInfo } from './gguf.js';
export { ChatTemplate } from './chat-template.js';
export type { ChatTemplateMessage, ChatTemplateOptions } from './chat-template.js';

// Rankers and the models under them. The ranker contract (Ranker, TrainableRanker, the PairRanker
// base, the list grid) and loadRanker come first; then each family: BERT (CrossEncoder, RraBert,
// BiEncoder), T5 (monoT5, RankT5, TWOLAR), Llama-family decoders (RraGpt); then the building blocks
// (Parameters, layers) for a new one.

// The ranker contract and the registry
export type { TrainableRanker, Ranker, RankedDocument, ScoreOptions } from './ranker.js';
export { rankByScore } from './ranker.js';
export { PairRanker, type ScoringPlan } from './pair-ranker.js';
export { toListGrid, slotsFromMask } from './list-grid.js';
export { loadRanker, resolveRanker, registerRankerFamily, rankerFamilies, rankerFolder, detectRankerFamily } from './registry.js';
export type { LoadRankerOptions, LoadedRanker, RankerFamily, RankerFolder, ResolvedRanker } from './registry.js';
export { renderModelCard, writeModelCard } from './common/model-card.js';
export type { ModelCardData, ModelCardResult, ModelDescription } from './common/model-card.js';

// BERT
export { BertModel, bertParameterShapes, renameBertCheckpointKey } from './bert/model.js';
export type { BertInputs, BertOutputs, BertForwardOptions } from './bert/model.js';
export { bertConfig, parseBertConfig, readBertConfig, bertConfigJson, BERT_DEFAULTS } from './bert/config.js';
export type { BertConfig } from './bert/config.js';
export { CrossEncoder, formatLoadReport } from './cross-encoder.js';
export type { CrossEncoderOptions, CrossEncoderPooling, PairBatch, CheckpointLoadReport } from './cross-encoder.js';
export { LateInteractionRanker, maxSim, LATE_INTERACTION_FILE } from './late-interaction.js';
export type { LateInteractionOptions, LateInteractionBatch } from './late-interaction.js';
export { BiEncoder, pool, l2Normalize, parsePoolingConfig, poolingConfigJson, POOLING_MODES, readSentenceTransformerLayout } from './bi-encoder/index.js';
export type { BiEncoderOptions, BiEncoderBatch, EmbedOptions, PoolingMode, SentenceTransformerLayout, Similarity } from './bi-encoder/index.js';
export {
  RraBert, TermControlLayer, selectTokens, selectTokensFromTensor, specialTokenIds, DEFAULT_SELECTION, SelectReason, SELECT_REASON_NAMES,
  RRA_CONFIG_FILE, TCL_WEIGHTS_FILE,
} from './rra-bert/index.js';
export type {
  RraBertConfig, RraBertOptions, RraBatch, InspectedToken, TokenSelection, TokenSelectionConfig, SelectionTokens, TclPooling,
  TermControlLayerConfig,
} from './rra-bert/index.js';

// T5
export { T5Model, loadT5, type KV, type EncoderContext } from './t5/model.js';
export { t5Config, parseT5Config, readT5Config, t5ConfigJson, T5_DEFAULTS, type T5Config } from './t5/config.js';
export {
  generate as t5Generate, sampleToken, DocT5QueryGenerator, type GenerateOptions as T5GenerateOptions, type DocT5QueryOptions,
} from './t5/generation.js';
export {
  T5Ranker, monoT5, rankT5, rankT5Encoder, twolar, monoT5CrossEntropy, tokenCrossEntropy, t5InputText, T5_HEADS,
  type T5Head, type T5RankerOptions, type T5Batch,
} from './t5/rankers.js';

// Llama-family decoders and RRA-GPT
export { LlamaModel, KVCache, llamaParameterShapes, renameLlamaCheckpointKey, positionsFromMask } from './llama/model.js';
export type { LlamaInputs, LlamaForwardOptions, LlamaOutputs } from './llama/model.js';
export { findGgufFile, llamaConfigFromGguf, loadLlamaGgufWeights, hfLlamaName, unpermuteQK } from './llama/gguf.js';
export { llamaConfig, parseLlamaConfig, readLlamaConfig, llamaConfigJson, ropeInvFreq, LLAMA_DEFAULTS } from './llama/config.js';
export type { LlamaConfig, RopeScaling } from './llama/config.js';
export { generate as llamaGenerate, pickToken } from './llama/generation.js';
export type { GenerateOptions as LlamaGenerateOptions, GenerateResult as LlamaGenerateResult } from './llama/generation.js';
export { RraGpt, DEFAULT_TEMPLATE as RRA_GPT_DEFAULT_TEMPLATE } from './rra-gpt/ranker.js';
export type { RraGptOptions, RraGptTemplate, RraGptBatch } from './rra-gpt/ranker.js';
export { ReasonMap } from './rra-gpt/reasons.js';
export { FrozenStateCache } from './rra-gpt/frozen-cache.js';

// Building blocks
export { Parameters } from './common/parameters.js';
export type { Init, LoadOptions, LoadReport } from './common/parameters.js';
export * as layers from './common/layers.js';

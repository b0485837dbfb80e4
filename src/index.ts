// rankdistill: the public API. Everything a user imports comes from here.

// Backend
export { initBackend, ensureBackend, currentBackend } from './backend/index.js';
export type { BackendInfo, BackendOptions, BackendPreference } from './backend/index.js';

// Files and errors
export { InputError } from './utils/errors.js';
export type { InputLocation } from './utils/errors.js';
export { Progress } from './utils/progress.js';
export type { ProgressOptions } from './utils/progress.js';
export { readSafetensors, writeSafetensors, parseSafetensors, serializeSafetensors } from './io/safetensors.js';
export type { SafetensorsFile, StoredTensor, TensorToWrite, SafetensorsDtype } from './io/safetensors.js';

// Tokenization
export { TextTokenizer, batchToTensors } from './tokenization/tokenizer.js';
export type { EncodedBatch, BatchEncodeOptions, EncodeOptions, TokenizerOptions, TruncationStrategy } from './tokenization/tokenizer.js';

// Models
export { Parameters } from './models/common/parameters.js';
export type { Init, LoadOptions, LoadReport } from './models/common/parameters.js';
export * as layers from './models/common/layers.js';
export { BertModel, bertParameterShapes, renameBertCheckpointKey } from './models/bert/model.js';
export type { BertInputs, BertOutputs, BertForwardOptions } from './models/bert/model.js';
export { bertConfig, parseBertConfig, readBertConfig, bertConfigJson, BERT_DEFAULTS } from './models/bert/config.js';
export type { BertConfig } from './models/bert/config.js';
export { CrossEncoder } from './models/cross-encoder.js';
export type { CrossEncoderOptions, CrossEncoderPooling, ScoreOptions, RankedDocument, PairBatch } from './models/cross-encoder.js';
export { LateInteractionRanker, maxSim, LATE_INTERACTION_FILE } from './models/late-interaction.js';
export type { LateInteractionOptions, LateInteractionBatch } from './models/late-interaction.js';
export { BiEncoder, pool, l2Normalize, parsePoolingConfig, poolingConfigJson, POOLING_MODES, readSentenceTransformerLayout } from './models/bi-encoder/index.js';
export type { BiEncoderOptions, BiEncoderBatch, EmbedOptions, PoolingMode, SentenceTransformerLayout, Similarity } from './models/bi-encoder/index.js';

// Data files, evaluation, reranking
export {
  readTrecRun, readLlmRerankRun, writeTrecRun, readQrels, trecOrder, readQueriesTsv, readCorpusTsv, readBeirCorpus, readBeirQueries,
  readBeirQrels, beirDocumentText, readBm25Json, candidatesToRun, readReason2Rank, readLines,
} from './data/index.js';
export type {
  RunEntry, Run, Qrels, ReadRunOptions, TsvOptions, BeirDocument, CandidateList, CandidateHit, Reason2RankRecord, Reason2RankResult,
  BadRecord, ReadOptions,
} from './data/index.js';
export { evaluateRun, parseMeasures, pairedTTest, randomizationTest, studentTTwoSided } from './evaluation/index.js';
export type { EvaluateOptions, EvaluationResult, MeasureSpec, TTestResult, RandomizationResult } from './evaluation/index.js';
export { rerankRun } from './reranking/index.js';
export type { RerankOptions, RerankResult, PairScorer } from './reranking/index.js';

export { T5Model, loadT5, relativePositionBucket, type KV, type EncoderContext } from './models/t5/model.js';
export { t5Config, parseT5Config, readT5Config, t5ConfigJson, T5_DEFAULTS, type T5Config } from './models/t5/config.js';
export {
  generate as t5Generate, sampleToken, DocT5QueryGenerator, type GenerateOptions as T5GenerateOptions, type DocT5QueryOptions,
} from './models/t5/generation.js';
export {
  T5Ranker, monoT5, rankT5, rankT5Encoder, twolar, monoT5CrossEntropy, tokenCrossEntropy, t5InputText, T5_HEADS,
  type T5Head, type T5RankerOptions, type T5Batch,
} from './models/t5/rankers.js';

export { LlamaModel, KVCache, llamaParameterShapes, renameLlamaCheckpointKey, positionsFromMask } from './models/llama/model.js';
export type { LlamaInputs, LlamaForwardOptions, LlamaOutputs } from './models/llama/model.js';
export { llamaConfig, parseLlamaConfig, readLlamaConfig, llamaConfigJson, ropeInvFreq, LLAMA_DEFAULTS } from './models/llama/config.js';
export type { LlamaConfig, RopeScaling } from './models/llama/config.js';
export { generate as llamaGenerate, pickToken } from './models/llama/generation.js';
export type { GenerateOptions as LlamaGenerateOptions, GenerateResult as LlamaGenerateResult } from './models/llama/generation.js';
export { RraGpt, DEFAULT_TEMPLATE as RRA_GPT_DEFAULT_TEMPLATE } from './models/rra-gpt/ranker.js';
export type { RraGptOptions, RraGptTemplate, RraGptBatch } from './models/rra-gpt/ranker.js';
export { ReasonMap, passageReasons, readRraGptData, rraGptDataFromRecords } from './models/rra-gpt/data.js';

export {
  RraBert, TermControlLayer, selectTokens, selectTokensFromTensor, specialTokenIds, DEFAULT_SELECTION, SelectReason, SELECT_REASON_NAMES,
  RRA_CONFIG_FILE, TCL_WEIGHTS_FILE,
} from './models/rra-bert/index.js';
export type {
  RraBertConfig, RraBertOptions, RraBatch, InspectedToken, TokenSelection, TokenSelectionConfig, SelectionTokens, TclPooling,
  TermControlLayerConfig,
} from './models/rra-bert/index.js';

// Losses
export * from './losses/index.js';

// Training
export { AdamW, clipByGlobalNorm, defaultDecay } from './training/optimizer.js';
export type { AdamWOptions, OptimizerState } from './training/optimizer.js';
export { makeSchedule } from './training/schedules.js';
export type { Schedule, ScheduleName, ScheduleOptions } from './training/schedules.js';
export { SeededRandom } from './training/random.js';
export {
  listFromRanking,
  listsFromTeacherRun,
  listsFromPermutations,
  listsFromQrels,
  listsFromTeacherLabels,
  prepareList,
  reciprocalRank,
  linearRank,
  HARD_NEGATIVE_LABEL,
  toListGrid,
} from './training/lists.js';
export type { TrainingList, RankTransform, ListSampling, PreparedList } from './training/lists.js';
export { Trainer, NonFiniteLossError } from './training/trainer.js';
export type { TrainerConfig, TrainResult, Grads } from './training/trainer.js';
export type { TrainableRanker } from './training/types.js';
export { runDistillation, printReport, defaultDataDir, DEMO_DEFAULTS, DEMO_MODEL, RANKING_EXAMPLE, loadTeacherLists, dataFile } from './training/recipe.js';
export type { DistillationConfig, DistillationReport, SystemResult, TeacherListOptions, StudentConfig, StudentKind, Comparison } from './training/recipe.js';

// Teacher labels
export {
  LlmClient, LlmError, parseRanking, buildRankingMessages, buildReasonMessages, truncateWords, rankCall, slidingWindowRank, windowSpans,
  preRankAndSelect, preRankedRank, labelQuery, labelQueries, summarizeLabels, isCleanLabel,
} from './teacher/index.js';
export type {
  ChatMessage, ChatResult, CallLog, LlmClientOptions, ParsedRanking, Candidate, CallFailure, Scorer, SlidingWindowOptions, PreRankedOptions,
  PreRankedResult, TeacherLabel, LabelMode, LabelOptions, LabelSummary, QueryCandidates,
} from './teacher/index.js';

// Retrieval and query augmentation
export { Bm25Index, bm25Scorer, englishAnalyzer, tokenize, LUCENE_ENGLISH_STOP_WORDS, roundRobin, reciprocalRankFusion, fuseRuns } from './retrieval/index.js';
export type { Bm25Options, Bm25Hit, CollectionStats, Analyzer, FusionMethod } from './retrieval/index.js';
export { SentenceCropper, augmentQueries, splitSentences } from './augmentation/index.js';
export type { QueryGenerator, SentenceCropOptions, AugmentedQuery } from './augmentation/index.js';

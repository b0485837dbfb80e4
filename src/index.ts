// rankdistill: what a training script needs. The rest of the library is in the subpath entries
// (rankdistill/models, /losses, /data, /teacher, /retrieval, /evaluation, /io, /hub, …; docs/api.md).

// Backend and errors
export { initBackend, currentBackend } from './backend/index.js';
export type { BackendInfo, BackendOptions, BackendPreference } from './backend/index.js';
export { InputError } from './utils/errors.js';

// Rankers: each family, and loadRanker for whatever a folder or Hub id holds
export { CrossEncoder, RraBert, T5Ranker, RraGpt, BiEncoder, LateInteractionRanker, loadRanker } from './models/index.js';
export type { Ranker, TrainableRanker, RankedDocument, LoadRankerOptions, LoadedRanker, T5Head } from './models/index.js';

// Training lists and the trainer
export { Trainer } from './training/index.js';
export type { TrainerConfig, TrainResult } from './training/index.js';
export { listFromRanking, listsFromTeacherRun, listsFromPermutations, listsFromQrels, listsFromTeacherLabels, reciprocalRank, linearRank } from './data/index.js';
export type { TrainingList, RankTransform } from './data/index.js';

// Losses
export { getLoss, registerLoss, listLosses } from './losses/index.js';
export type { RankingLoss, LossResult } from './losses/index.js';

// Data files
export {
  readTrecRun, writeTrecRun, readQrels, readQueriesTsv, readCorpusTsv, readBm25Json, readBeirCorpus, readBeirQueries, readBeirQrels, readReason2Rank,
} from './data/index.js';
export type { Run, RunEntry, Qrels, CandidateList } from './data/index.js';

// Evaluation
export { evaluateRun, evaluateReranking, pairedTTest, randomizationTest } from './evaluation/index.js';
export type { EvaluationResult, RerankEvaluation } from './evaluation/index.js';

// Pretrained checkpoints
export { resolvePretrained, fetchModel } from './hub/index.js';
export type { HubOptions } from './hub/index.js';

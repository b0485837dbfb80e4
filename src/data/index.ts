// Readers and writers for the ranking data formats, with file:line:field errors or a bad-record report.
export { readTrecRun, readLlmRerankRun, writeTrecRun, readQrels, trecOrder, compareBytes, formatRunLine } from './trec.js';
export type { RunEntry, Run, Qrels, ReadRunOptions } from './trec.js';
export { readQueriesTsv, readCorpusTsv } from './tsv.js';
export type { TsvOptions } from './tsv.js';
export { readBeirCorpus, readBeirQueries, readBeirQrels, beirDocumentText } from './beir.js';
export type { BeirDocument } from './beir.js';
export { readBm25Json, candidatesToRun } from './bm25-json.js';
export type { CandidateList, CandidateHit } from './bm25-json.js';
export { readReason2Rank } from './reason2rank.js';
export type { Reason2RankRecord, Reason2RankResult } from './reason2rank.js';
export { readLines } from './records.js';
export type { BadRecord, ReadOptions } from './records.js';
export {
  listFromRanking, listsFromTeacherRun, listsFromPermutations, listsFromQrels, listsFromTeacherLabels, reciprocalRank, linearRank, HARD_NEGATIVE_LABEL,
} from './lists.js';
export type { TrainingList, RankTransform } from './lists.js';
export { readRraGptData, rraGptDataFromRecords, passageReasons } from './rra-gpt.js';
export type { RraGptData } from './rra-gpt.js';

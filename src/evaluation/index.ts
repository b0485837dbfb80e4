// trec_eval-exact ranking measures and paired significance tests.
export { evaluateRun, parseMeasures, SUPPORTED_MEASURES } from './measures.js';
export type { EvaluateOptions, EvaluationResult, MeasureSpec } from './measures.js';
export { pairedTTest, randomizationTest } from './significance.js';
export type { TTestResult, RandomizationResult } from './significance.js';
export {
  evaluateReranking, scoreCandidates, candidatePairs, candidateScores, scoresToRun, measureScores, compareSystems,
} from './reranking.js';
export type {
  CandidateScores, MeasureRequest, MeasuredScores, Comparison, ScoreCandidatesOptions, RerankEvaluationOptions, RerankEvaluation,
} from './reranking.js';

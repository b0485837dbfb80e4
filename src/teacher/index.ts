export { LlmClient, LlmError, canonicalJson, sha256, parseRetryAfter, type ChatMessage, type ChatResult, type CallLog, type LlmClientOptions, type RetryEvent, type Usage } from './llm-client.js';
export { buildRankingMessages, buildReasonMessages, promptTemplateVersion, rankingInstruction, parseRanking, parseReasons, formatRanking, truncateWords, type ParsedRanking, type PromptOptions } from './prompt.js';
export {
  rankCall,
  slidingWindowRank,
  windowSpans,
  preRankAndSelect,
  preRankedRank,
  type Candidate,
  type CallFailure,
  type ParseStats,
  type RankCallResult,
  type Scorer,
  type SlidingWindowOptions,
  type SlidingWindowResult,
  type PreRankedOptions,
  type PreRankedResult,
} from './listwise.js';
export { labelQuery, labelQueries, summarizeLabels, isCleanLabel, labelsToRun, parseTeacherLabel, readTeacherLabels, type LabelRunEntry, type TeacherLabel, type LabelMode, type LabelOptions, type LabelSummary, type QueryCandidates } from './labels.js';

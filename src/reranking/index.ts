// Reranking harness: rescore a run's top-k with any (query, document) scorer and write a TREC run.
export { rerankRun, topKOf } from './rerank.js';
export type { RerankOptions, RerankResult, PairScorer } from './rerank.js';

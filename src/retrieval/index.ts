export { englishAnalyzer, tokenize, LUCENE_ENGLISH_STOP_WORDS, type Analyzer, type EnglishAnalyzerOptions } from './analyzer.js';
export { Bm25Index, bm25Idf, luceneDocLength, bm25Scorer, type Bm25Options, type Bm25Hit, type CollectionStats } from './bm25.js';
export { roundRobin, reciprocalRankFusion, interpolateScores, fuseRuns, runOrder, type RankedIds, type RunLike, type FusionMethod } from './fusion.js';
export {
  DenseIndex, topKInnerProduct, memoryRows, corpusFingerprint, DENSE_FILES,
  type Embedder, type DenseDocument, type DenseBuildOptions, type DenseHit, type DenseSearchOptions, type DenseIndexMeta, type RowSource,
} from './dense.js';

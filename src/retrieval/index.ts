export { englishAnalyzer, tokenize, LUCENE_ENGLISH_STOP_WORDS, type Analyzer, type EnglishAnalyzerOptions } from './analyzer.js';
export { Bm25Index, bm25Idf, luceneDocLength, bm25Scorer, type Bm25Options, type Bm25Hit, type CollectionStats } from './bm25.js';
export { roundRobin, reciprocalRankFusion, fuseRuns, runOrder, type RankedIds, type RunLike, type FusionMethod } from './fusion.js';

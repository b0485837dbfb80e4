// Evaluating a re-ranker on candidate lists (a first-stage run with texts: BM25 top-k): score the
// top-k of every query with a scorer, make the run, measure it trec_eval-exactly, and compare it with
// a baseline (the first stage, or another system) per query with a paired t-test and a randomization
// test. evaluateReranking does all of it; the steps are exported for recipes and benchmarks that
// reuse scores (several measures, interpolations, averages over seeds).
import type { CandidateHit, CandidateList } from '../data/bm25-json.js';
import type { Qrels, RunEntry } from '../data/trec.js';
import type { PairScorer } from '../reranking/rerank.js';
import { evaluateRun } from './measures.js';
import { pairedTTest, randomizationTest } from './significance.js';

/** Scores of candidates: qid → docid → score (insertion order = candidate order). */
export type CandidateScores = Map<string, Map<string, number>>;

/**
 * A measure to compute: a trec_eval name (`ndcg_cut_10`, `recip_rank_10`, `P_5`, …), or one with its
 * own relevance level for binary measures (TREC DL counts grade ≥ 2 as relevant for MRR and recall).
 */
export type MeasureRequest = string | { measure: string; relevanceLevel?: number };

/** The candidates of a query that are reranked: the first `topK` (all when unset). */
function topOf(c: CandidateList, topK?: number): CandidateHit[] {
  return topK === undefined ? c.hits : c.hits.slice(0, topK);
}

/** The (query, document text) pairs of the top-k candidates, query by query. */
export function candidatePairs(lists: readonly CandidateList[], topK?: number): Array<[string, string]> {
  return lists.flatMap((c) => topOf(c, topK).map((h) => [c.query, h.text] as [string, string]));
}

/**
 * Scores laid out on the candidates: from a flat array in candidatePairs order, or from a function of
 * each hit (e.g. `(h) => h.score` for the first stage's own scores, `(h, i) => -i` for its order).
 */
export function candidateScores(lists: readonly CandidateList[], values: readonly number[] | ((hit: CandidateHit, index: number, list: CandidateList) => number), topK?: number): CandidateScores {
  const out: CandidateScores = new Map();
  let k = 0;
  for (const c of lists) {
    const hits = topOf(c, topK);
    out.set(c.qid, new Map(hits.map((h, i) => [h.docid, typeof values === 'function' ? values(h, i, c) : values[k++]])));
  }
  if (typeof values !== 'function' && k !== values.length) throw new Error(`candidateScores: ${values.length} scores for ${k} candidates`);
  return out;
}

export interface ScoreCandidatesOptions {
  /** Candidates reranked per query (default: all). */
  topK?: number;
  /**
   * 'query' (default): one scorer call per query; 'set': one call for every pair of the set (a
   * length-batching scorer then pads less; a bi-encoder embeds each text once).
   */
  calls?: 'query' | 'set';
}

/** Scores the top-k candidates of every query with `scorer`. */
export async function scoreCandidates(scorer: PairScorer, lists: readonly CandidateList[], opts: ScoreCandidatesOptions = {}): Promise<CandidateScores> {
  if ((opts.calls ?? 'query') === 'set') {
    const pairs = candidatePairs(lists, opts.topK);
    const scores = await scorer(pairs);
    if (scores.length !== pairs.length) throw new Error(`the scorer returned ${scores.length} scores for ${pairs.length} pairs`);
    return candidateScores(lists, scores, opts.topK);
  }
  const out: CandidateScores = new Map();
  for (const c of lists) {
    const hits = topOf(c, opts.topK);
    const scores = await scorer(hits.map((h) => [c.query, h.text] as [string, string]));
    if (scores.length !== hits.length) throw new Error(`the scorer returned ${scores.length} scores for the ${hits.length} candidates of query ${c.qid}`);
    out.set(c.qid, new Map(hits.map((h, i) => [h.docid, scores[i]])));
  }
  return out;
}

/** The run of candidate scores (rank = candidate order; trec_eval orders by score). */
export function scoresToRun(scores: CandidateScores, tag = 'rankdistill'): Map<string, RunEntry[]> {
  return new Map([...scores].map(([qid, m]) => [qid, [...m].map(([docid, score], i) => ({ qid, docid, rank: i + 1, score, tag }))]));
}

export interface MeasuredScores {
  /** Mean over the queries in both run and qrels (trec_eval), per measure. */
  aggregate: Record<string, number>;
  /** Per measure, one value per query of `queries` (0 for a query the qrels do not judge). */
  perQuery: Record<string, number[]>;
  queries: string[];
}

/** Measures candidate scores against qrels; per-query values in the order of `queries` (default: the scores' queries). */
export function measureScores(qrels: Qrels, scores: CandidateScores, measures: readonly MeasureRequest[], opts: { queries?: readonly string[] } = {}): MeasuredScores {
  const queries = [...(opts.queries ?? scores.keys())];
  const run = scoresToRun(scores);
  // One evaluation per relevance level, the measures of that level together.
  const byLevel = new Map<number | undefined, string[]>();
  for (const m of measures) {
    const { measure, relevanceLevel } = typeof m === 'string' ? { measure: m, relevanceLevel: undefined } : m;
    byLevel.set(relevanceLevel, [...(byLevel.get(relevanceLevel) ?? []), measure]);
  }
  const aggregate: Record<string, number> = {};
  const perQuery: Record<string, number[]> = {};
  for (const [relevanceLevel, names] of byLevel) {
    const r = evaluateRun(qrels, run, names, relevanceLevel === undefined ? {} : { relevanceLevel });
    for (const name of names) {
      aggregate[name] = r.aggregate[name];
      perQuery[name] = queries.map((q) => r.perQuery.get(q)?.[name] ?? 0);
    }
  }
  return { aggregate, perQuery, queries };
}

/** A system against a baseline on the same queries: mean difference and the two paired tests' p-values. */
export interface Comparison {
  delta: number;
  tTestP: number;
  randomizationP: number;
}

/** Paired comparison of per-query values (a − b): mean difference, t-test p and randomization-test p. */
export function compareSystems(a: readonly number[], b: readonly number[], opts: { trials?: number; seed?: number } = {}): Comparison {
  if (a.length !== b.length) throw new Error(`compareSystems: ${a.length} values against ${b.length}`);
  const delta = a.reduce((s, x, i) => s + x - b[i], 0) / a.length;
  return { tTestP: pairedTTest([...a], [...b]).p, randomizationP: randomizationTest([...a], [...b], { trials: opts.trials ?? 10000, seed: opts.seed }).p, delta };
}

export interface RerankEvaluationOptions extends ScoreCandidatesOptions {
  /** Measures (default: nDCG@10). */
  measures?: readonly MeasureRequest[];
  /**
   * Compare with a baseline per query: 'first-stage' (the candidates' own scores), scores of another
   * system, or none (default).
   */
  baseline?: 'first-stage' | CandidateScores;
  /** Randomization-test trials and seed (defaults 10000 and the test's). */
  trials?: number;
  seed?: number;
}

export interface RerankEvaluation extends MeasuredScores {
  scores: CandidateScores;
  run: Map<string, RunEntry[]>;
  /** The baseline's measures and, per measure, the reranker against it. */
  baseline?: MeasuredScores & { comparison: Record<string, Comparison> };
}

/**
 * Reranks the top-k candidates of every query with `scorer`, measures the run against `qrels`, and
 * (with `baseline`) compares it per query with the first stage or another system.
 */
export async function evaluateReranking(
  scorer: PairScorer,
  set: { lists: readonly CandidateList[]; qrels: Qrels },
  opts: RerankEvaluationOptions = {},
): Promise<RerankEvaluation> {
  const measures = opts.measures ?? ['ndcg_cut_10'];
  const scores = await scoreCandidates(scorer, set.lists, opts);
  const queries = set.lists.map((c) => c.qid);
  const measured = measureScores(set.qrels, scores, measures, { queries });
  const result: RerankEvaluation = { ...measured, scores, run: scoresToRun(scores) };
  if (opts.baseline) {
    const base = opts.baseline === 'first-stage' ? candidateScores(set.lists, (h) => h.score, opts.topK) : opts.baseline;
    const b = measureScores(set.qrels, base, measures, { queries });
    const comparison = Object.fromEntries(Object.keys(b.perQuery).map((m) => [m, compareSystems(measured.perQuery[m], b.perQuery[m], opts)]));
    result.baseline = { ...b, comparison };
  }
  return result;
}

// Merging candidate lists from several retrievers (TWOLAR: BM25, SPLADE, DRAGON, ...) into one list
// per query without duplicates.

/** One retriever's ranking for one query, best first. */
export type RankedIds = readonly string[];

/**
 * Round robin: the first of each run, then the second of each run, ...; a document already taken is
 * skipped. Runs earlier in the array win ties of position.
 */
export function roundRobin(lists: readonly RankedIds[], depth = Infinity): string[] {
  const out: string[] = [];
  const seen = new Set<string>();
  const longest = Math.max(0, ...lists.map((l) => l.length));
  for (let r = 0; r < longest && out.length < depth; r++) {
    for (const l of lists) {
      if (r >= l.length) continue;
      const d = l[r];
      if (seen.has(d)) continue;
      seen.add(d);
      out.push(d);
      if (out.length >= depth) break;
    }
  }
  return out;
}

/**
 * Reciprocal-rank fusion (Cormack et al. 2009): score(d) = Σ_runs 1 / (k + rank_run(d)), rank from 1.
 * A docid repeated inside one run counts at its best rank only. Ties: first appearance across runs.
 */
export function reciprocalRankFusion(lists: readonly RankedIds[], opts: { k?: number; depth?: number } = {}): Array<{ docid: string; score: number }> {
  const k = opts.k ?? 60;
  const score = new Map<string, number>();
  const first = new Map<string, number>();
  let order = 0;
  for (const l of lists) {
    const seen = new Set<string>();
    l.forEach((d, i) => {
      if (seen.has(d)) return;
      seen.add(d);
      score.set(d, (score.get(d) ?? 0) + 1 / (k + i + 1));
      if (!first.has(d)) first.set(d, order++);
    });
  }
  const fused = [...score].map(([docid, s]) => ({ docid, score: s }));
  fused.sort((a, b) => b.score - a.score || first.get(a.docid)! - first.get(b.docid)!);
  return fused.slice(0, opts.depth ?? fused.length);
}

/** Entries of a TREC run as read by the data readers (`readTrecRun`). */
export interface RunLike {
  docid: string;
  rank: number;
  score: number;
}

/**
 * A run's list for one query, best first: by score as trec_eval reads runs, equal scores by the rank
 * column (LLM runs tie their scores), then docid.
 */
export function runOrder(entries: readonly RunLike[]): string[] {
  return [...entries].sort((a, b) => b.score - a.score || a.rank - b.rank || (a.docid < b.docid ? -1 : a.docid > b.docid ? 1 : 0)).map((e) => e.docid);
}

export type FusionMethod = 'rrf' | 'round-robin' | 'interpolation';

/**
 * Normalised score interpolation: each run's scores min-max normalised per query to [0, 1], then
 * Σ_runs w_run · norm_run(d); a document a run did not return counts 0 there (its minimum). A run
 * whose scores are all equal normalises to 0. Ties: first appearance across runs (as RRF).
 */
export function interpolateScores(
  lists: ReadonlyArray<readonly RunLike[]>,
  weights: readonly number[],
  opts: { depth?: number } = {},
): Array<{ docid: string; score: number }> {
  if (weights.length !== lists.length || !weights.every(Number.isFinite)) throw new Error(`interpolation needs one finite weight per run: ${lists.length} runs, weights [${weights.join(', ')}]`);
  const score = new Map<string, number>();
  const first = new Map<string, number>();
  let order = 0;
  lists.forEach((l, r) => {
    const best = new Map<string, number>();
    for (const e of l) best.set(e.docid, Math.max(best.get(e.docid) ?? -Infinity, e.score));
    const v = [...best.values()];
    const lo = Math.min(...v);
    const span = Math.max(...v) - lo;
    for (const d of runOrder(l)) {
      if (!first.has(d)) first.set(d, order++);
      if (!score.has(d)) score.set(d, 0);
    }
    for (const [d, x] of best) score.set(d, score.get(d)! + weights[r] * (span > 0 ? (x - lo) / span : 0));
  });
  const fused = [...score].map(([docid, s]) => ({ docid, score: s }));
  fused.sort((a, b) => b.score - a.score || first.get(a.docid)! - first.get(b.docid)!);
  return fused.slice(0, opts.depth ?? fused.length);
}

/** Fuses whole runs (qid → entries): every query present in any run; result lists are docids best first. */
export function fuseRuns(
  runs: ReadonlyArray<Map<string, readonly RunLike[]>>,
  opts: { method?: FusionMethod; k?: number; depth?: number; weights?: readonly number[] } = {},
): Map<string, string[]> {
  const qids: string[] = [];
  const seen = new Set<string>();
  for (const run of runs) for (const q of run.keys()) if (!seen.has(q)) (seen.add(q), qids.push(q));
  const out = new Map<string, string[]>();
  for (const q of qids) {
    if (opts.method === 'interpolation') {
      out.set(q, interpolateScores(runs.map((r) => r.get(q) ?? []), opts.weights ?? runs.map(() => 1 / runs.length), { depth: opts.depth }).map((h) => h.docid));
      continue;
    }
    const lists = runs.map((r) => runOrder(r.get(q) ?? []));
    out.set(
      q,
      (opts.method ?? 'rrf') === 'rrf'
        ? reciprocalRankFusion(lists, { k: opts.k, depth: opts.depth }).map((h) => h.docid)
        : roundRobin(lists, opts.depth),
    );
  }
  return out;
}

// Reranking harness: rescore the top-k of each query of a TREC run with any scorer (a model, BM25, a
// function of the pair) and write a TREC run. Output is appended one whole query at a time, so a
// killed rerank restarted with `resume` skips the queries already complete in the file and redoes
// only the one it was cut off in.
import fs from 'node:fs';
import path from 'node:path';
import { formatRunLine, trecOrder, type RunEntry } from '../data/trec.js';
import { InputError } from '../utils/errors.js';
import { Progress } from '../utils/progress.js';

/** Scores (query, document) pairs, one score per pair, higher = more relevant. */
export type PairScorer = (pairs: Array<[string, string]>) => Promise<number[]>;

export interface RerankOptions {
  run: Map<string, RunEntry[]>;
  /** Documents reranked per query: the first K in trec_eval order (score desc, docid desc). */
  topK: number;
  scorer: PairScorer;
  getQuery: (qid: string) => string | undefined;
  getDoc: (docid: string, qid: string) => string | undefined;
  /** Pairs per scorer call (default: all of a query's top-k in one call). */
  batchSize?: number;
  /** TREC run file to write (appended per query). */
  out?: string;
  /** Keep the queries already complete in `out` and score only the rest (default false: `out` is overwritten). */
  resume?: boolean;
  /** Run tag (default 'rankdistill'). */
  tag?: string;
  /** A progress line on stderr (true), or a Progress to tick (counts pairs). */
  progress?: boolean | Progress;
}

export interface RerankResult {
  /** The reranked run: every query, resumed ones read back from `out`. */
  run: Map<string, RunEntry[]>;
  /** Queries taken from an existing `out`. */
  resumedQueries: number;
  /** Queries scored now. */
  scoredQueries: number;
  /** Pairs scored now. */
  scoredPairs: number;
}

/** The documents of each query that the harness reranks. */
export function topKOf(entries: readonly RunEntry[], k: number): RunEntry[] {
  return trecOrder(entries).slice(0, k);
}

/**
 * Reads what a previous (possibly killed) rerank left in `out`: the queries whose lines are all there
 * and match the run's top-k. A cut-off last line and a query with missing lines are dropped.
 */
function completedQueries(out: string, expected: Map<string, Set<string>>): { done: Map<string, RunEntry[]>; keptText: string; dropped: boolean } {
  const text = fs.readFileSync(out, 'utf8');
  const end = text.lastIndexOf('\n');
  // A partial final line is what a kill mid-write leaves; it is dropped, not an error.
  const lines = end < 0 ? [] : text.slice(0, end).split('\n');
  let dropped = end !== text.length - 1;
  const byQuery = new Map<string, RunEntry[]>();
  lines.forEach((l, i) => {
    if (!l.trim()) return;
    const f = l.trim().split(/\s+/);
    const score = Number(f[4]);
    const rank = Number(f[3]);
    if (f.length !== 6 || !Number.isFinite(score) || !Number.isInteger(rank)) {
      throw new InputError('malformed line in the output being resumed; remove the file or rerun without resume', { file: out, line: i + 1 });
    }
    const [qid, , docid, , , tag] = f;
    if (!expected.has(qid)) {
      throw new InputError(`query ${qid} is not in the run being reranked: this output belongs to another run; use another output file or rerun without resume`, { file: out, line: i + 1, field: 'qid' });
    }
    let list = byQuery.get(qid);
    if (!list) byQuery.set(qid, (list = []));
    list.push({ qid, docid, rank, score, tag });
  });
  const done = new Map<string, RunEntry[]>();
  const kept: string[] = [];
  for (const [qid, list] of byQuery) {
    const want = expected.get(qid)!;
    const ids = new Set(list.map((e) => e.docid));
    if (list.length === want.size && ids.size === want.size && [...ids].every((d) => want.has(d))) {
      done.set(qid, list);
      kept.push(...list.map((e) => formatRunLine(e)));
    } else {
      dropped = true;
    }
  }
  return { done, keptText: kept.length ? kept.join('\n') + '\n' : '', dropped };
}

/** Reranks the top-k of every query of `run` (see the top of this file). */
export async function rerankRun(opts: RerankOptions): Promise<RerankResult> {
  const { run, topK, scorer, getQuery, getDoc } = opts;
  if (!(Number.isInteger(topK) && topK >= 1)) throw new InputError(`topK must be a positive integer, got ${topK}`, { field: 'topK' });
  const batchSize = opts.batchSize ?? Infinity;
  if (!(batchSize >= 1)) throw new InputError(`batchSize must be ≥ 1, got ${batchSize}`, { field: 'batchSize' });
  const tag = opts.tag ?? 'rankdistill';
  const tops = new Map([...run].map(([qid, es]) => [qid, topKOf(es, topK)]));

  let done = new Map<string, RunEntry[]>();
  if (opts.out) {
    fs.mkdirSync(path.dirname(path.resolve(opts.out)), { recursive: true });
    if (opts.resume && fs.existsSync(opts.out)) {
      const expected = new Map([...tops].map(([q, es]) => [q, new Set(es.map((e) => e.docid))]));
      const prev = completedQueries(opts.out, expected);
      done = prev.done;
      // Rewrite without the partial query so appending continues from a clean file.
      if (prev.dropped) {
        const tmp = `${opts.out}.tmp-${process.pid}`;
        fs.writeFileSync(tmp, prev.keptText);
        fs.renameSync(tmp, opts.out);
      }
    } else {
      fs.writeFileSync(opts.out, '');
    }
  }

  const pairsOf = (qid: string) => tops.get(qid)!.length;
  let total = 0;
  let already = 0;
  for (const qid of tops.keys()) {
    total += pairsOf(qid);
    if (done.has(qid)) already += pairsOf(qid);
  }
  const progress =
    opts.progress instanceof Progress ? opts.progress : opts.progress ? new Progress({ total, start: already, label: 'rerank', unit: 'pairs' }) : null;

  const fd = opts.out ? fs.openSync(opts.out, 'a') : null;
  const result = new Map<string, RunEntry[]>();
  let scoredQueries = 0;
  let scoredPairs = 0;
  try {
    for (const [qid, entries] of tops) {
      const prev = done.get(qid);
      if (prev) {
        result.set(qid, prev);
        continue;
      }
      const query = getQuery(qid);
      if (query === undefined) throw new InputError(`no text for query ${qid}`, { field: 'qid' });
      const pairs: Array<[string, string]> = entries.map((e) => {
        const doc = getDoc(e.docid, qid);
        if (doc === undefined) throw new InputError(`no text for document ${e.docid} (query ${qid})`, { field: 'docid' });
        return [query, doc];
      });
      const scores: number[] = [];
      for (let s = 0; s < pairs.length; s += Math.min(batchSize, pairs.length)) {
        const chunk = pairs.slice(s, s + Math.min(batchSize, pairs.length));
        const got = await scorer(chunk);
        if (!Array.isArray(got) || got.length !== chunk.length) {
          throw new Error(`scorer returned ${Array.isArray(got) ? got.length : typeof got} scores for ${chunk.length} pairs (query ${qid})`);
        }
        got.forEach((v, j) => {
          if (!Number.isFinite(v)) throw new Error(`scorer returned ${v} for query ${qid}, document ${entries[s + j].docid}`);
        });
        scores.push(...got);
        progress?.tick(chunk.length, { query: qid });
      }
      const ranked = trecOrder(entries.map((e, i) => ({ qid, docid: e.docid, score: scores[i], rank: 0, tag }))).map((e, i) => ({ ...e, rank: i + 1 }));
      // One write per query: a kill leaves complete queries plus at most one partial one.
      if (fd !== null) {
        fs.writeSync(fd, ranked.map((e) => formatRunLine(e)).join('\n') + '\n');
        fs.fsyncSync(fd);
      }
      result.set(qid, ranked);
      scoredQueries++;
      scoredPairs += pairs.length;
    }
  } finally {
    if (fd !== null) fs.closeSync(fd);
  }
  progress?.finish();
  return { run: result, resumedQueries: done.size, scoredQueries, scoredPairs };
}

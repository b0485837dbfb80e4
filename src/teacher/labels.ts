// Teacher-label records (one JSON line per query, read by data/lists.ts `listsFromTeacherLabels`)
// and the per-query labelling driver for both modes.
import { describe, parseJsonObject, readLines, RecordError, tryRecord, type BadRecord, type ReadOptions } from '../data/records.js';
import type { LlmClient } from './llm-client.js';
import { preRankedRank, slidingWindowRank, type CallFailure, type Candidate, type ParseStats, type PreRankedOptions, type SlidingWindowOptions } from './listwise.js';

export type LabelMode = 'rankgpt' | 'rradistill';

export interface TeacherLabel {
  qid: string;
  query: string;
  mode: LabelMode;
  model: string;
  /** Docids the teacher ranked, best first. */
  ranking: string[];
  /** Docids shown to the teacher and left out of its answer (RRADistill); empty in RankGPT mode. */
  hardNegatives: string[];
  /** docid → passage text for every docid in ranking and hardNegatives. */
  texts: Record<string, string>;
  reasons?: string | Record<string, string>;
  /** Calls that gave no ranking; a record with any ranking failure is not a clean label. */
  failures?: CallFailure[];
  /** LLM requests made for this query (cache hits included). */
  calls: number;
  /** Ids the parser dropped (duplicates, out of range) or found missing, summed over calls. */
  parse: ParseStats;
}

export interface QueryCandidates {
  qid: string;
  query: string;
  /** Candidates best first (a retriever's order). */
  candidates: Candidate[];
}

export interface LabelOptions extends SlidingWindowOptions, PreRankedOptions {
  mode?: LabelMode;
  /** Candidates kept per query before ranking (default all). */
  depth?: number;
}

/** True when the record's ranking came from the LLM everywhere (a failed reasons call does not count). */
export function isCleanLabel(l: TeacherLabel): boolean {
  return !(l.failures ?? []).some((f) => f.kind !== 'reasons');
}

export async function labelQuery(client: LlmClient, q: QueryCandidates, opts: LabelOptions = {}): Promise<TeacherLabel> {
  const mode = opts.mode ?? 'rankgpt';
  const seen = new Set<string>();
  // A docid twice in a candidate list would be ranked against itself: keep the first.
  const candidates = q.candidates.filter((c) => !seen.has(c.docid) && (seen.add(c.docid), true)).slice(0, opts.depth ?? Infinity);
  const base = { qid: q.qid, query: q.query, mode, model: client.model };
  const texts = (docs: Candidate[]) => Object.fromEntries(docs.map((d) => [d.docid, d.text]));
  // Nothing to rank (a retriever found no candidate): no call, an empty label.
  if (!candidates.length) return { ...base, ranking: [], hardNegatives: [], texts: {}, calls: 0, parse: { duplicates: 0, outOfRange: 0, missing: 0 } };
  let label: TeacherLabel;
  if (mode === 'rankgpt') {
    const r = await slidingWindowRank(client, q.query, candidates, opts);
    label = { ...base, ranking: r.ranking.map((d) => d.docid), hardNegatives: [], texts: texts(r.ranking), failures: r.failures, calls: r.calls, parse: r.stats };
  } else if (mode === 'rradistill') {
    const r = await preRankedRank(client, q.query, candidates, opts);
    label = {
      ...base,
      ranking: r.ranking.map((d) => d.docid),
      hardNegatives: r.hardNegatives.map((d) => d.docid),
      texts: texts([...r.ranking, ...r.hardNegatives]),
      reasons: r.reasons,
      failures: r.failures,
      calls: r.calls,
      parse: r.stats,
    };
  } else {
    throw new Error(`unknown label mode '${mode as string}' (rankgpt | rradistill)`);
  }
  if (!label.failures?.length) delete label.failures;
  if (label.reasons === undefined) delete label.reasons;
  return label;
}

export interface LabelSummary {
  queries: number;
  clean: number;
  failed: number;
  calls: number;
  failures: number;
  hardNegatives: number;
  /** Mean hard negatives per clean query. */
  hardNegativesPerQuery: number;
  parse: ParseStats;
}

export function summarizeLabels(labels: readonly TeacherLabel[]): LabelSummary {
  const clean = labels.filter(isCleanLabel);
  const hn = clean.reduce((s, l) => s + l.hardNegatives.length, 0);
  const parse = { duplicates: 0, outOfRange: 0, missing: 0 };
  for (const l of labels) {
    parse.duplicates += l.parse?.duplicates ?? 0;
    parse.outOfRange += l.parse?.outOfRange ?? 0;
    parse.missing += l.parse?.missing ?? 0;
  }
  return {
    queries: labels.length,
    clean: clean.length,
    failed: labels.length - clean.length,
    calls: labels.reduce((s, l) => s + (l.calls ?? 0), 0),
    failures: labels.reduce((s, l) => s + (l.failures?.length ?? 0), 0),
    hardNegatives: hn,
    hardNegativesPerQuery: clean.length ? hn / clean.length : 0,
    parse,
  };
}

/**
 * Labels many queries, `queryConcurrency` at a time (the client bounds HTTP concurrency; windows of
 * one query are sequential). `onLabel` sees each record as it completes (write it out there). A fatal
 * error (LlmError with `fatal`) stops every worker: no new query starts, and it is thrown once the
 * queries in progress have settled (their records, if any, reach `onLabel` first).
 */
export async function labelQueries(
  client: LlmClient,
  queries: readonly QueryCandidates[],
  opts: LabelOptions & { queryConcurrency?: number; onLabel?: (l: TeacherLabel) => void | Promise<void> } = {},
): Promise<TeacherLabel[]> {
  const out: TeacherLabel[] = new Array(queries.length);
  let next = 0;
  let error: unknown = null;
  const workers = Array.from({ length: Math.max(1, Math.min(opts.queryConcurrency ?? 4, queries.length)) }, async () => {
    while (next < queries.length && error === null) {
      const i = next++;
      try {
        out[i] = await labelQuery(client, queries[i], opts);
      } catch (e) {
        error ??= e;
        return;
      }
      await opts.onLabel?.(out[i]);
    }
  });
  await Promise.all(workers);
  if (error !== null) throw error;
  return out;
}

/** One TREC run line of `labelsToRun` (the shape of data/trec's RunEntry). */
export interface LabelRunEntry {
  qid: string;
  docid: string;
  rank: number;
  score: number;
  tag: string;
}

/**
 * Teacher labels as a TREC run: per query the docids the teacher ranked (rank 1, 2, …), then its hard
 * negatives below them in the order they were shown, unless `hardNegatives: false`. Ranks are unique
 * and the score is `n − rank + 1` (n = the query's documents), so score order, trec_eval's order and
 * the rank column (`rankdistill eval --by-rank`) all give the teacher's order. Labels with a ranking
 * failure are left out (they are not the teacher's ranking); so are queries with nothing ranked.
 */
export function labelsToRun(labels: Iterable<TeacherLabel>, opts: { tag?: string; hardNegatives?: boolean } = {}): Map<string, LabelRunEntry[]> {
  const tag = opts.tag ?? 'teacher';
  const run = new Map<string, LabelRunEntry[]>();
  for (const l of labels) {
    if (!isCleanLabel(l) || run.has(l.qid)) continue;
    const seen = new Set<string>();
    const docs = [...l.ranking, ...(opts.hardNegatives === false ? [] : l.hardNegatives)].filter((d) => !seen.has(d) && (seen.add(d), true));
    if (!docs.length) continue;
    run.set(
      l.qid,
      docs.map((docid, i) => ({ qid: l.qid, docid, rank: i + 1, score: docs.length - i, tag })),
    );
  }
  return run;
}

function stringArray(v: unknown, field: string): string[] {
  if (!Array.isArray(v)) throw new RecordError(field, `expected an array of docids, got ${describe(v)}`);
  v.forEach((d, i) => {
    if (typeof d !== 'string' || !d) throw new RecordError(`${field}[${i}]`, `expected a non-empty string, got ${describe(d)}`);
  });
  return v as string[];
}

/** One record of a labels file (a line of `rankdistill label` output), checked field by field. */
export function parseTeacherLabel(text: string): TeacherLabel {
  const o = parseJsonObject(text);
  if (typeof o.qid !== 'string' || !o.qid) throw new RecordError('qid', `expected a non-empty string, got ${describe(o.qid)}`);
  if (typeof o.query !== 'string') throw new RecordError('query', `expected a string, got ${describe(o.query)}`);
  const ranking = stringArray(o.ranking, 'ranking');
  const hardNegatives = o.hardNegatives === undefined ? [] : stringArray(o.hardNegatives, 'hardNegatives');
  if (o.texts !== undefined && (typeof o.texts !== 'object' || o.texts === null || Array.isArray(o.texts))) throw new RecordError('texts', `expected an object docid → text, got ${describe(o.texts)}`);
  if (o.failures !== undefined && !Array.isArray(o.failures)) throw new RecordError('failures', `expected an array, got ${describe(o.failures)}`);
  return { ...(o as unknown as TeacherLabel), ranking, hardNegatives, texts: (o.texts ?? {}) as Record<string, string> };
}

/** Reads a labels file (JSONL, `rankdistill label` output). Default `onError: 'throw'` (file, line, field). */
export async function readTeacherLabels(file: string, opts: ReadOptions = {}): Promise<{ labels: TeacherLabel[]; bad: BadRecord[] }> {
  const bad: BadRecord[] = opts.bad ?? [];
  const labels: TeacherLabel[] = [];
  for await (const { line, text } of readLines(file)) {
    if (!text.trim()) continue;
    const l = tryRecord(opts, bad, { file, line }, () => parseTeacherLabel(text));
    if (l) labels.push(l);
  }
  return { labels, bad };
}

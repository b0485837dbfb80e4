// Teacher-label records (one JSON line per query, read by training/lists.ts `listsFromTeacherLabels`)
// and the per-query labelling driver for both modes.
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
 * one query are sequential). `onLabel` sees each record as it completes (write it out there).
 */
export async function labelQueries(
  client: LlmClient,
  queries: readonly QueryCandidates[],
  opts: LabelOptions & { queryConcurrency?: number; onLabel?: (l: TeacherLabel) => void | Promise<void> } = {},
): Promise<TeacherLabel[]> {
  const out: TeacherLabel[] = new Array(queries.length);
  let next = 0;
  const workers = Array.from({ length: Math.max(1, Math.min(opts.queryConcurrency ?? 4, queries.length)) }, async () => {
    while (next < queries.length) {
      const i = next++;
      out[i] = await labelQuery(client, queries[i], opts);
      await opts.onLabel?.(out[i]);
    }
  });
  await Promise.all(workers);
  return out;
}

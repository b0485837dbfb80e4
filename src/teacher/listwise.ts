// List-wise LLM ranking: one call over a list (with one retry on an unparseable answer), RankGPT's
// sliding window over a long list, and RRADistill's pre-ranked single call with hard negatives.
import { LlmError, type LlmClient } from './llm-client.js';
import { buildRankingMessages, buildReasonMessages, parseRanking, parseReasons, type ParsedRanking, type PromptOptions } from './prompt.js';

export interface Candidate {
  docid: string;
  text: string;
}

/** A call that gave no usable ranking: the answer twice unparseable, or the request failed for good. */
export interface CallFailure {
  kind: 'unparseable' | 'request' | 'reasons';
  message: string;
  /** [start, end) positions of the window in the list being ranked (sliding window). */
  window?: [number, number];
  /** The answers received (unparseable). */
  answers?: string[];
  /** Cache key / prompt hash of the first attempt. */
  key?: string;
}

/** What the parser dropped or filled in, summed over calls. */
export interface ParseStats {
  duplicates: number;
  outOfRange: number;
  missing: number;
}

export interface RankCallResult {
  parsed?: ParsedRanking;
  failure?: CallFailure;
  /** LLM requests made (cache hits included). */
  calls: number;
  answers: string[];
}

/** Any document scorer (BM25, a cross-encoder, a run's scores): higher = more relevant. */
export type Scorer = (query: string, docs: readonly Candidate[]) => number[] | Promise<number[]>;

/**
 * Ranks `passages` with one LLM call. An answer with no valid id is asked again once with the same
 * prompt (a fresh cache slot); a second unusable answer becomes a failure, never the input order.
 */
export async function rankCall(client: LlmClient, query: string, passages: readonly string[], opts: PromptOptions = {}): Promise<RankCallResult> {
  const messages = buildRankingMessages(query, passages, opts);
  const answers: string[] = [];
  let calls = 0;
  for (let variant = 0; variant < 2; variant++) {
    let content: string;
    try {
      calls++;
      content = (await client.chat(messages, { variant })).content;
    } catch (e) {
      // A fatal error (the key, the model, a server that is down) stops the whole run, not one call.
      if (!(e instanceof LlmError) || e.fatal) throw e;
      return { calls, answers, failure: { kind: 'request', message: e.message, key: e.key } };
    }
    answers.push(content);
    const parsed = parseRanking(content, passages.length);
    if (parsed.ok) return { parsed, calls, answers };
  }
  return {
    calls,
    answers,
    failure: { kind: 'unparseable', message: `no passage id in ${answers.length} answers`, answers, key: client.keyOf(messages) },
  };
}

function addStats(s: ParseStats, p: ParsedRanking): void {
  s.duplicates += p.duplicates.length;
  s.outOfRange += p.outOfRange.length;
  s.missing += p.missing.length;
}

export interface SlidingWindowOptions extends PromptOptions {
  /** Passages per call (default 20). */
  window?: number;
  /** Positions the window moves up per call (default 10); 1 <= step <= window. */
  step?: number;
}

export interface SlidingWindowResult {
  /** The whole list, re-ordered best first (only partly, when a window failed). */
  ranking: Candidate[];
  calls: number;
  /** The window whose call failed; the windows above it were not sent. */
  failures: CallFailure[];
  stats: ParseStats;
}

/** The [start, end) windows, in call order: from the bottom of the list to the top. */
export function windowSpans(n: number, window = 20, step = 10): Array<[number, number]> {
  if (!Number.isInteger(window) || window < 1) throw new Error(`sliding window: window must be a positive integer, got ${window}`);
  // step 0 never ends (rank_llm PR #444); step > window leaves documents no window moves past.
  if (!Number.isInteger(step) || step < 1 || step > window) throw new Error(`sliding window: step must be an integer in 1..window (${window}), got ${step}`);
  const spans: Array<[number, number]> = [];
  // The last window is clamped at the top, so the first documents are always ranked even when the
  // step does not divide n − window (rank_llm PR #51).
  for (let end = n; end > 0; end -= step) {
    const start = Math.max(0, end - window);
    spans.push([start, end]);
    if (start === 0) break;
  }
  return spans;
}

/**
 * RankGPT's sliding window: rank the last `window` candidates, move up by `step`, repeat to the top,
 * so strong documents bubble up. In each window the ids the LLM left out follow its ranking in their
 * incoming order (RankGPT mode). A failed window ends the query: the windows above it would rank a
 * list that is already wrong, so they are not paid for; the query is retried as a whole later (the
 * windows that succeeded come back from the client's cache).
 */
export async function slidingWindowRank(
  client: LlmClient,
  query: string,
  candidates: readonly Candidate[],
  opts: SlidingWindowOptions = {},
): Promise<SlidingWindowResult> {
  const list = candidates.slice();
  const failures: CallFailure[] = [];
  const stats: ParseStats = { duplicates: 0, outOfRange: 0, missing: 0 };
  let calls = 0;
  for (const [start, end] of windowSpans(list.length, opts.window ?? 20, opts.step ?? 10)) {
    const win = list.slice(start, end);
    const r = await rankCall(client, query, win.map((c) => c.text), opts);
    calls += r.calls;
    if (!r.parsed) {
      failures.push({ ...r.failure!, window: [start, end] });
      break;
    }
    addStats(stats, r.parsed);
    const order = [...r.parsed.ranking, ...r.parsed.missing];
    list.splice(start, win.length, ...order.map((i) => win[i]));
  }
  return { ranking: list, calls, failures, stats };
}

export interface PreRankedOptions extends PromptOptions {
  /** Orders candidates before the cut; default: the given order (e.g. a BM25 run). */
  preRanker?: Scorer;
  /** Best pre-ranked documents kept (default 10). */
  topK?: number;
  /** Worst pre-ranked documents kept (default 10). */
  bottomK?: number;
  /** Second call asking for the reasons behind the ranking (RRA-GPT). */
  reasons?: boolean;
}

export interface PreRankedResult {
  /** Documents the LLM ranked, best first (empty on failure). */
  ranking: Candidate[];
  /** Documents sent but left out of the answer. */
  hardNegatives: Candidate[];
  /** The 2k documents sent, in prompt order. */
  selected: Candidate[];
  /** docid → reason when the reasons answer is a JSON object, else the raw answer. */
  reasons?: string | Record<string, string>;
  calls: number;
  failures: CallFailure[];
  stats: ParseStats;
}

/** Top k and bottom k of the pre-ranked list (all of it when it has at most k + k documents). */
export async function preRankAndSelect(query: string, candidates: readonly Candidate[], opts: PreRankedOptions = {}): Promise<Candidate[]> {
  const topK = opts.topK ?? 10;
  const bottomK = opts.bottomK ?? 10;
  let ordered = candidates.slice();
  if (opts.preRanker) {
    const scores = await opts.preRanker(query, candidates);
    if (scores.length !== candidates.length) throw new Error(`pre-ranker returned ${scores.length} scores for ${candidates.length} documents`);
    // Stable: equal scores keep the incoming order.
    ordered = candidates.map((c, i) => ({ c, s: scores[i], i })).sort((a, b) => b.s - a.s || a.i - b.i).map((x) => x.c);
  }
  if (ordered.length <= topK + bottomK) return ordered;
  return [...ordered.slice(0, topK), ...(bottomK > 0 ? ordered.slice(-bottomK) : [])];
}

/**
 * RRADistill (§5.3): pre-rank, keep top k + bottom k, one LLM call (no sliding window); documents the
 * LLM leaves out are hard negatives. With `reasons`, a second call explains the ranking.
 */
export async function preRankedRank(client: LlmClient, query: string, candidates: readonly Candidate[], opts: PreRankedOptions = {}): Promise<PreRankedResult> {
  const selected = await preRankAndSelect(query, candidates, opts);
  const stats: ParseStats = { duplicates: 0, outOfRange: 0, missing: 0 };
  const r = await rankCall(client, query, selected.map((c) => c.text), opts);
  if (!r.parsed) return { ranking: [], hardNegatives: [], selected, calls: r.calls, failures: [r.failure!], stats };
  addStats(stats, r.parsed);
  const out: PreRankedResult = {
    ranking: r.parsed.ranking.map((i) => selected[i]),
    hardNegatives: r.parsed.missing.map((i) => selected[i]),
    selected,
    calls: r.calls,
    failures: [],
    stats,
  };
  if (opts.reasons) {
    const messages = buildReasonMessages(query, selected.map((c) => c.text), r.parsed.ranking, opts);
    out.calls++;
    try {
      const answer = (await client.chat(messages)).content;
      const parsed = parseReasons(answer, selected.length);
      out.reasons = parsed ? Object.fromEntries([...parsed].map(([i, why]) => [selected[i].docid, why])) : answer;
    } catch (e) {
      if (!(e instanceof LlmError) || e.fatal) throw e;
      out.failures.push({ kind: 'reasons', message: e.message, key: e.key });
    }
  }
  return out;
}

// Ranking measures with trec_eval 9.x semantics (usnistgov/trec_eval, as embedded in pytrec_eval):
// ordering by score desc then docid desc (the rank column is ignored), ideal DCG over every judged
// document with relevance > 0 (retrieved or not), binary measures at relevance ≥ level, averages over
// queries in both run and qrels (or over all qrels queries with `complete`, trec_eval -c).
import { trecOrder, compareBytes, type Qrels, type RunEntry } from '../data/trec.js';
import { InputError } from '../utils/errors.js';

export interface EvaluateOptions {
  /** Binary measures count relevance ≥ this as relevant (trec_eval -l; default 1; TREC DL uses 2). */
  relevanceLevel?: number;
  /** Average over every qrels query, a query missing from the run scoring 0 (trec_eval -c). */
  complete?: boolean;
  /**
   * nDCG gain: `linear` (default, trec_eval: the qrels grade) or `exponential` (2^grade − 1, the
   * Burges/gdeval convention; numbers are not comparable with trec_eval's).
   */
  gain?: 'linear' | 'exponential';
  /** Evaluate only the first K documents of each query after ordering (trec_eval -M). */
  cutoffRun?: number;
}

export interface EvaluationResult {
  /** qid → measure → value, for the queries in both run and qrels (as trec_eval -q prints them; with `complete`, missing queries are not listed: they count 0). */
  perQuery: Map<string, Record<string, number>>;
  /**
   * Mean over the evaluated queries, or over all qrels queries with `complete` (sums for the count
   * measures num_ret, num_rel, num_rel_ret, over the evaluated queries, as trec_eval prints them).
   * 0 when no query is evaluated (trec_eval exits with an error there).
   */
  aggregate: Record<string, number>;
  /** Number of queries averaged over (trec_eval's num_q: with `complete`, every qrels query). */
  numQueries: number;
}

type Kind = 'ndcg' | 'ndcg_cut' | 'recip_rank' | 'recip_rank_cut' | 'map' | 'map_cut' | 'recall' | 'P' | 'Rprec' | 'success' | 'num_ret' | 'num_rel' | 'num_rel_ret';

export interface MeasureSpec {
  /** Canonical name, e.g. `ndcg_cut_10`. */
  name: string;
  kind: Kind;
  k?: number;
}

const WITH_CUTOFF: Record<string, Kind> = {
  ndcg_cut: 'ndcg_cut',
  recip_rank: 'recip_rank_cut',
  map_cut: 'map_cut',
  recall: 'recall',
  P: 'P',
  success: 'success',
};
const PLAIN: Record<string, Kind> = { ndcg: 'ndcg', recip_rank: 'recip_rank', map: 'map', Rprec: 'Rprec', num_ret: 'num_ret', num_rel: 'num_rel', num_rel_ret: 'num_rel_ret' };
/** Measures whose aggregate is a sum over queries (as trec_eval prints them), not a mean. */
const SUMMED = new Set<Kind>(['num_ret', 'num_rel', 'num_rel_ret']);

export const SUPPORTED_MEASURES = 'ndcg, ndcg_cut_K, recip_rank, recip_rank_K, map, map_cut_K, recall_K, P_K, success_K, Rprec, num_ret, num_rel, num_rel_ret';

/**
 * Parses measure names: trec_eval's (`ndcg_cut_10`, `P_5`, `recall_100`, `map`, `recip_rank`) and its
 * command-line form (`ndcg_cut.5,10` → ndcg_cut_5, ndcg_cut_10). `recip_rank_K` is RR on the run cut at K (MRR@K).
 */
export function parseMeasures(names: readonly string[]): MeasureSpec[] {
  const out: MeasureSpec[] = [];
  const seen = new Set<string>();
  const add = (m: MeasureSpec) => {
    if (!seen.has(m.name)) {
      seen.add(m.name);
      out.push(m);
    }
  };
  for (const raw of names) {
    const name = raw.trim();
    if (!name) continue;
    if (name in PLAIN) {
      add({ name, kind: PLAIN[name] });
      continue;
    }
    const dot = /^([A-Za-z_]+)\.(\d+(?:,\d+)*)$/.exec(name);
    const us = /^([A-Za-z_]+?)_(\d+)$/.exec(name);
    const m = dot ?? us;
    if (m && m[1] in WITH_CUTOFF) {
      for (const ks of m[2].split(',')) {
        const k = Number(ks);
        if (!(k >= 1)) throw new InputError(`measure '${name}': cutoff must be a positive integer`, { field: 'measures' });
        add({ name: `${m[1]}_${k}`, kind: WITH_CUTOFF[m[1]], k });
      }
      continue;
    }
    throw new InputError(`unknown measure '${name}' (supported: ${SUPPORTED_MEASURES})`, { field: 'measures' });
  }
  return out;
}

function gainOf(rel: number, gain: 'linear' | 'exponential'): number {
  return gain === 'linear' ? rel : Math.pow(2, rel) - 1;
}

/** Measures for one query: `rels` holds the relevance of each retrieved document in rank order (undefined = unjudged). */
function evaluateQuery(rels: Array<number | undefined>, judged: Map<string, number> | undefined, specs: MeasureSpec[], level: number, gain: 'linear' | 'exponential'): Record<string, number> {
  const isRel = (r: number | undefined) => r !== undefined && r >= level;
  let numRel = 0;
  const positive: number[] = [];
  for (const r of judged?.values() ?? []) {
    if (r >= level) numRel++;
    if (r > 0) positive.push(r);
  }
  positive.sort((a, b) => b - a);
  const dcgAt = (k: number) => {
    let s = 0;
    for (let i = 0; i < Math.min(k, rels.length); i++) {
      const r = rels[i];
      if (r !== undefined && r > 0) s += gainOf(r, gain) / Math.log2(i + 2);
    }
    return s;
  };
  const idcgAt = (k: number) => {
    let s = 0;
    for (let i = 0; i < Math.min(k, positive.length); i++) s += gainOf(positive[i], gain) / Math.log2(i + 2);
    return s;
  };
  const relRetAt = (k: number) => {
    let c = 0;
    for (let i = 0; i < Math.min(k, rels.length); i++) if (isRel(rels[i])) c++;
    return c;
  };
  const apAt = (k: number) => {
    if (numRel === 0) return 0;
    let c = 0;
    let s = 0;
    for (let i = 0; i < Math.min(k, rels.length); i++) {
      if (isRel(rels[i])) s += ++c / (i + 1);
    }
    return s / numRel;
  };
  const rrAt = (k: number) => {
    for (let i = 0; i < Math.min(k, rels.length); i++) if (isRel(rels[i])) return 1 / (i + 1);
    return 0;
  };
  const out: Record<string, number> = {};
  for (const m of specs) {
    const k = m.k ?? Infinity;
    let v: number;
    switch (m.kind) {
      case 'ndcg':
      case 'ndcg_cut': {
        const ideal = idcgAt(k);
        v = ideal > 0 ? dcgAt(k) / ideal : 0;
        break;
      }
      case 'recip_rank':
      case 'recip_rank_cut':
        v = rrAt(k);
        break;
      case 'map':
      case 'map_cut':
        v = apAt(k);
        break;
      case 'recall':
        v = numRel > 0 ? relRetAt(k) / numRel : 0;
        break;
      case 'P':
        v = relRetAt(k) / k;
        break;
      case 'success':
        v = relRetAt(k) > 0 ? 1 : 0;
        break;
      case 'Rprec':
        v = numRel > 0 ? relRetAt(numRel) / numRel : 0;
        break;
      case 'num_ret':
        v = rels.length;
        break;
      case 'num_rel':
        v = numRel;
        break;
      case 'num_rel_ret':
        v = relRetAt(Infinity);
        break;
    }
    out[m.name] = v;
  }
  return out;
}

/** Ranks a query's entries as trec_eval does (and checks for duplicate documents, an error there too). */
export function rankQuery(qid: string, entries: readonly RunEntry[], cutoffRun?: number): string[] {
  const ordered = trecOrder(entries);
  const seen = new Set<string>();
  for (const e of ordered) {
    if (seen.has(e.docid)) throw new InputError(`query ${qid}: document ${e.docid} appears twice in the run`, { field: 'docid' });
    seen.add(e.docid);
  }
  const docids = ordered.map((e) => e.docid);
  return cutoffRun !== undefined ? docids.slice(0, cutoffRun) : docids;
}

/** Evaluates a run against qrels with trec_eval semantics (see the top of this file). */
export function evaluateRun(qrels: Qrels, run: Map<string, RunEntry[]>, measures: readonly string[], opts: EvaluateOptions = {}): EvaluationResult {
  const specs = parseMeasures(measures);
  if (specs.length === 0) throw new InputError('no measures given', { field: 'measures' });
  const level = opts.relevanceLevel ?? 1;
  const gain = opts.gain ?? 'linear';
  if (gain !== 'linear' && gain !== 'exponential') throw new InputError(`gain must be 'linear' or 'exponential', got '${String(gain)}'`, { field: 'gain' });
  if (opts.cutoffRun !== undefined && !(Number.isInteger(opts.cutoffRun) && opts.cutoffRun >= 1)) {
    throw new InputError(`cutoffRun must be a positive integer, got ${opts.cutoffRun}`, { field: 'cutoffRun' });
  }
  // Evaluated: queries in both run and qrels (trec_eval skips run queries without judgments), in
  // strcmp order so the sums below add up in a fixed order.
  const qids = [...run.keys()].filter((q) => qrels.has(q)).sort(compareBytes);
  const perQuery = new Map<string, Record<string, number>>();
  for (const qid of qids) {
    const judged = qrels.get(qid)!;
    const docids = rankQuery(qid, run.get(qid)!, opts.cutoffRun);
    perQuery.set(qid, evaluateQuery(docids.map((d) => judged.get(d)), judged, specs, level, gain));
  }
  // trec_eval -c: qrels queries missing from the run add nothing to the sums (so they count 0, also
  // in num_rel) but do count in the denominator.
  const numQueries = opts.complete ? qrels.size : qids.length;
  const aggregate: Record<string, number> = {};
  for (const m of specs) {
    let s = 0;
    for (const v of perQuery.values()) s += v[m.name];
    aggregate[m.name] = SUMMED.has(m.kind) || numQueries === 0 ? s : s / numQueries;
  }
  return { perQuery, aggregate, numQueries };
}

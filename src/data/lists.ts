// Training lists: (query, documents, labels) per query, built from teacher rankings, qrels or the
// Reason-to-Rank groups. The trainer cuts or pads them to a fixed list size (training/list-sampling.ts).
import { InputError } from '../utils/errors.js';

export interface TrainingList {
  qid: string;
  query: string;
  docs: string[];
  /** Higher = more relevant; same length as docs. */
  labels: number[];
}

/**
 * Maps a 0-based teacher rank (of `depth` ranked documents) to a relevance label. Kept explicit:
 * ranks are not relevance (rank 0 is the best), and hard negatives must sit below every ranked document.
 */
export type RankTransform = (rank: number, depth: number) => number;

/** 1/(r+1): RankGPT's and TWOLAR's targets. */
export const reciprocalRank: RankTransform = (r) => 1 / (r + 1);
/** depth − r: Lightning IR's linear targets (the best gets `depth`, the last 1). */
export const linearRank: RankTransform = (r, depth) => depth - r;

/** Label given to hard negatives (documents the teacher left out): below any ranked document. */
export const HARD_NEGATIVE_LABEL = 0;

/** A list from a teacher's ranking (best first), with optional hard negatives labelled 0. */
export function listFromRanking(
  qid: string,
  query: string,
  rankedDocs: string[],
  opts: { transform?: RankTransform; hardNegatives?: string[]; depth?: number } = {},
): TrainingList {
  const transform = opts.transform ?? reciprocalRank;
  const ranked = opts.depth ? rankedDocs.slice(0, opts.depth) : rankedDocs;
  const labels = ranked.map((_, r) => transform(r, ranked.length));
  const minRanked = labels.length ? Math.min(...labels) : 1;
  if (opts.hardNegatives?.length && !(minRanked > HARD_NEGATIVE_LABEL)) {
    throw new Error(`rank transform gives ${minRanked} to a ranked document: hard negatives (label 0) would not rank below it`);
  }
  const negs = opts.hardNegatives ?? [];
  return { qid, query, docs: [...ranked, ...negs], labels: [...labels, ...negs.map(() => HARD_NEGATIVE_LABEL)] };
}

/** One teacher ranking per query from a TREC run ordered by its rank column (LLM runs tie their scores). */
export function listsFromTeacherRun(
  run: Map<string, Array<{ docid: string; rank: number }>>,
  queries: Map<string, string>,
  texts: Map<string, string>,
  opts: { transform?: RankTransform; depth?: number; source?: string } = {},
): TrainingList[] {
  const out: TrainingList[] = [];
  for (const [qid, entries] of run) {
    const query = queries.get(qid);
    if (query === undefined) throw new InputError(`query ${qid} of the run has no text`, { file: opts.source, field: 'qid' });
    const ranked = [...entries].sort((a, b) => a.rank - b.rank).map((e) => {
      const t = texts.get(e.docid);
      if (t === undefined) throw new InputError(`document ${e.docid} (query ${qid}) has no text`, { file: opts.source, field: 'docid' });
      return t;
    });
    out.push(listFromRanking(qid, query, ranked, opts));
  }
  return out;
}

/** Lists from Reason-to-Rank groups: the teacher permutation (0-based, best first) gives the labels. */
export function listsFromPermutations(
  records: Array<{ query: string; docs: string[]; permutation: number[] }>,
  opts: { transform?: RankTransform; qidPrefix?: string } = {},
): TrainingList[] {
  return records.map((r, i) => listFromRanking(`${opts.qidPrefix ?? 'group'}-${i}`, r.query, r.permutation.map((j) => r.docs[j]), opts));
}

/** Lists labelled by qrels grades over candidate lists (unjudged = 0). */
export function listsFromQrels(
  candidates: Array<{ qid: string; query: string; hits: Array<{ docid: string; text: string }> }>,
  qrels: Map<string, Map<string, number>>,
): TrainingList[] {
  return candidates.map((c) => ({
    qid: c.qid,
    query: c.query,
    docs: c.hits.map((h) => h.text),
    labels: c.hits.map((h) => qrels.get(c.qid)?.get(h.docid) ?? 0),
  }));
}

/** Lists from teacher-label records (`rankdistill label` output): ranking by 1/(r+1), hard negatives 0. */
export function listsFromTeacherLabels(
  records: Array<{ qid: string; query: string; ranking: string[]; hardNegatives: string[]; texts: Record<string, string> }>,
  opts: { transform?: RankTransform } = {},
): TrainingList[] {
  return records.map((r) => {
    const text = (d: string) => {
      const t = r.texts[d];
      if (t === undefined) throw new InputError(`document ${d} of query ${r.qid} has no text`, { field: 'texts' });
      return t;
    };
    return listFromRanking(r.qid, r.query, r.ranking.map(text), { ...opts, hardNegatives: r.hardNegatives.map(text) });
  });
}

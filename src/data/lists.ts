// Training lists: (query, documents, labels) per query, built from teacher rankings, qrels or the
// Reason-to-Rank groups, then cut or padded to a fixed list size with a mask.
import * as tf from '@tensorflow/tfjs-core';
import { InputError } from '../utils/errors.js';
import { SeededRandom } from '../utils/random.js';

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

/**
 * How a list longer than the list size is cut: `top` keeps the best-labelled items; `top-and-random`
 * keeps the best half and samples the rest (teacher order matters at the top, negatives vary);
 * `random` samples uniformly but always keeps the best item.
 */
export type ListSampling = 'top' | 'top-and-random' | 'random';

export interface PreparedList {
  docs: string[];
  labels: number[];
  /** 1 for real items, 0 for padding (docs of padding slots are ''). */
  mask: number[];
}

/** Cuts or pads a list to exactly `size` items. */
export function prepareList(list: TrainingList, size: number, rng: SeededRandom, sampling: ListSampling = 'top-and-random'): PreparedList {
  const idx = list.docs.map((_, i) => i).sort((a, b) => list.labels[b] - list.labels[a] || a - b);
  let keep: number[];
  if (idx.length <= size) keep = idx;
  else if (sampling === 'top') keep = idx.slice(0, size);
  else {
    const head = sampling === 'random' ? 1 : Math.ceil(size / 2);
    const rest = rng.shuffle(idx.slice(head)).slice(0, size - head);
    keep = [...idx.slice(0, head), ...rest];
  }
  // Shuffle kept items so position never encodes the label.
  keep = rng.shuffle(keep);
  const docs = keep.map((i) => list.docs[i]);
  const labels = keep.map((i) => list.labels[i]);
  const mask = keep.map(() => 1);
  while (docs.length < size) {
    docs.push('');
    labels.push(0);
    mask.push(0);
  }
  return { docs, labels, mask };
}

/**
 * Per-pair values (the real pairs of a micro-batch, row-major) → the [lists, listSize] grid the
 * losses take. `slot[i]` is the pair index of grid cell i; a negative or out-of-range index marks
 * padding, which reads 0 (masked out by the losses). Differentiable in `values`.
 */
export function toListGrid(values: tf.Tensor1D, slot: readonly number[], shape: [number, number]): tf.Tensor2D {
  return tf.tidy(() => {
    const n = values.shape[0];
    const idx = tf.tensor1d(slot.map((s) => (s >= 0 && s < n ? s : n)), 'int32');
    return tf.reshape(tf.gather(tf.concat([values, tf.zeros([1])]), idx), shape) as tf.Tensor2D;
  });
}

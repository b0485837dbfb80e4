// Reason-to-Rank teacher JSONL: per line a query, 5 passages (`unsorted_docs`), the LLM's permutation
// (`re_rank_id`, 1-based, best first), its raw answer (`reason`) and the true labels (`scores`).
// `sorted_docids` is unreliable (see the data README) and not read. Invalid permutations are a real
// case in the staged data (12 records): with `onError: 'collect'` they come back in `bad`.
import { describe, parseJsonObject, readLines, RecordError, tryRecord, type BadRecord, type ReadOptions } from './records.js';

export interface Reason2RankRecord {
  query: string;
  docs: string[];
  /** 0-based indices into `docs`, best first. */
  permutation: number[];
  /** The teacher's raw answer (permutation and explanations). */
  reason?: string;
  /** Ground-truth label per entry of `docs`. */
  labels?: number[];
  /** 1-based line in the file. */
  line: number;
}

export interface Reason2RankResult {
  records: Reason2RankRecord[];
  bad: BadRecord[];
}

function parseRecord(text: string, line: number): Reason2RankRecord {
  const o = parseJsonObject(text);
  if (typeof o.query !== 'string' || !o.query.trim()) throw new RecordError('query', `expected a non-empty string, got ${describe(o.query)}`);
  const docs = o.unsorted_docs;
  if (!Array.isArray(docs) || docs.length === 0) throw new RecordError('unsorted_docs', `expected a non-empty array of strings, got ${describe(docs)}`);
  docs.forEach((d, i) => {
    if (typeof d !== 'string') throw new RecordError(`unsorted_docs[${i}]`, `expected a string, got ${describe(d)}`);
  });
  const ids = o.re_rank_id;
  if (!Array.isArray(ids)) throw new RecordError('re_rank_id', `expected an array, got ${describe(ids)}`);
  const n = docs.length;
  const perm = ids.map((x, i) => {
    const k = typeof x === 'number' ? x : typeof x === 'string' && /^\s*\d+\s*$/.test(x) ? Number(x) : NaN;
    if (!Number.isInteger(k) || k < 1 || k > n) throw new RecordError(`re_rank_id[${i}]`, `expected an index 1..${n}, got ${describe(x)}`);
    return k - 1;
  });
  if (perm.length !== n || new Set(perm).size !== n) {
    throw new RecordError('re_rank_id', `not a permutation of 1..${n}: [${ids.map((x) => JSON.stringify(x)).join(', ')}]`);
  }
  const rec: Reason2RankRecord = { query: o.query, docs: docs as string[], permutation: perm, line };
  if (o.reason !== undefined) {
    if (typeof o.reason !== 'string') throw new RecordError('reason', `expected a string, got ${describe(o.reason)}`);
    rec.reason = o.reason;
  }
  if (o.scores !== undefined) {
    if (!Array.isArray(o.scores) || o.scores.length !== n) throw new RecordError('scores', `expected ${n} labels (one per passage), got ${describe(o.scores)}`);
    rec.labels = o.scores.map((s, i) => {
      const k = typeof s === 'number' ? s : typeof s === 'string' && /^\s*-?\d+(\.\d+)?\s*$/.test(s) ? Number(s) : NaN;
      if (!Number.isFinite(k)) throw new RecordError(`scores[${i}]`, `expected a number, got ${describe(s)}`);
      return k;
    });
  }
  return rec;
}

/** Reads a Reason-to-Rank JSONL file. Default `onError: 'throw'`. */
export async function readReason2Rank(file: string, opts: ReadOptions = {}): Promise<Reason2RankResult> {
  const bad: BadRecord[] = opts.bad ?? [];
  const records: Reason2RankRecord[] = [];
  for await (const { line, text } of readLines(file)) {
    if (!text.trim()) continue;
    const r = tryRecord(opts, bad, { file, line }, () => parseRecord(text, line));
    if (r) records.push(r);
  }
  return { records, bad };
}

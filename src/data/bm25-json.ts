// The RankGPT / rank_llm "retrieve_results" JSON: `[{"query", "hits": [{"content", "qid", "docid",
// "rank"?, "score"}, ...]}, ...]`. Used by the staged TREC DL BM25 top-100 files (with `rank`), the
// BEIR subsets (no `rank`; `qid` an int or a string) and NovelEval's data.json. The files are a few MB
// of one JSON array, so they are parsed whole; bad elements are reported as "element N" with the line and column where they start.
import { describe, readJsonText, RecordError, tryRecord, type ReadOptions } from './records.js';
import { InputError } from '../utils/errors.js';

export interface CandidateHit {
  docid: string;
  text: string;
  score: number;
  /** The file's rank field, when it has one (BEIR subsets do not). */
  rank?: number;
}

export interface CandidateList {
  /** Compared as a string: the files write it as an int or a string. */
  qid: string;
  query: string;
  /** In file (retrieval) order. */
  hits: CandidateHit[];
}

function parseList(el: unknown): CandidateList {
  if (typeof el !== 'object' || el === null || Array.isArray(el)) throw new RecordError('element', `expected an object, got ${describe(el)}`);
  const o = el as Record<string, unknown>;
  if (typeof o.query !== 'string') throw new RecordError('query', `expected a string, got ${describe(o.query)}`);
  if (!Array.isArray(o.hits)) throw new RecordError('hits', `expected an array, got ${describe(o.hits)}`);
  if (o.hits.length === 0) throw new RecordError('hits', 'no hits (the query id is taken from the hits)');
  let qid: string | undefined;
  const seen = new Set<string>();
  const hits = o.hits.map((h: unknown, i: number): CandidateHit => {
    const f = (name: string) => `hits[${i}].${name}`;
    if (typeof h !== 'object' || h === null || Array.isArray(h)) throw new RecordError(`hits[${i}]`, `expected an object, got ${describe(h)}`);
    const r = h as Record<string, unknown>;
    const q = typeof r.qid === 'number' && Number.isInteger(r.qid) ? String(r.qid) : r.qid;
    if (typeof q !== 'string' || !q) throw new RecordError(f('qid'), `expected an integer or a non-empty string, got ${describe(r.qid)}`);
    if (qid === undefined) qid = q;
    else if (q !== qid) throw new RecordError(f('qid'), `hits of one query disagree on the query id: ${qid} and ${q}`);
    const docid = typeof r.docid === 'number' && Number.isInteger(r.docid) ? String(r.docid) : r.docid;
    if (typeof docid !== 'string' || !docid || /\s/.test(docid)) throw new RecordError(f('docid'), `expected a non-empty string without whitespace, got ${describe(r.docid)}`);
    if (seen.has(docid)) throw new RecordError(f('docid'), `document ${docid} appears twice for query ${qid}`);
    seen.add(docid);
    if (typeof r.content !== 'string') throw new RecordError(f('content'), `expected a string, got ${describe(r.content)}`);
    if (typeof r.score !== 'number' || !Number.isFinite(r.score)) throw new RecordError(f('score'), `expected a finite number, got ${describe(r.score)}`);
    const hit: CandidateHit = { docid, text: r.content, score: r.score };
    if (r.rank !== undefined) {
      if (typeof r.rank !== 'number' || !Number.isInteger(r.rank)) throw new RecordError(f('rank'), `expected an integer, got ${describe(r.rank)}`);
      hit.rank = r.rank;
    }
    return hit;
  });
  return { qid: qid!, query: o.query, hits };
}

/** Reads a BM25 candidate JSON file (see the top of this file). */
export async function readBm25Json(file: string, opts: ReadOptions = {}): Promise<CandidateList[]> {
  const bad = opts.bad ?? [];
  const { value: data, elementAt } = await readJsonText(file);
  if (!Array.isArray(data)) throw new InputError(`expected a JSON array of {query, hits}, got ${describe(data)}`, { file });
  const out: CandidateList[] = [];
  const qids = new Set<string>();
  data.forEach((el, i) => {
    const c = tryRecord(opts, bad, () => elementAt(i), () => {
      const l = parseList(el);
      if (qids.has(l.qid)) throw new RecordError('hits[0].qid', `query ${l.qid} appears twice`);
      return l;
    });
    if (c) {
      qids.add(c.qid);
      out.push(c);
    }
  });
  return out;
}

/** A candidate file as a TREC run (score = the file's score, rank = position in the list). */
export function candidatesToRun(lists: readonly CandidateList[], tag = 'bm25'): Map<string, Array<{ qid: string; docid: string; rank: number; score: number; tag: string }>> {
  return new Map(lists.map((c) => [c.qid, c.hits.map((h, i) => ({ qid: c.qid, docid: h.docid, rank: h.rank ?? i + 1, score: h.score, tag }))]));
}

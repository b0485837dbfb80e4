// TREC runs (`qid Q0 docid rank score tag`) and qrels (`qid iter docid rel`), whitespace separated,
// streamed line by line. Checks follow trec_eval: 6 / 4 columns, numeric score and relevance, no
// duplicate document within a query.
import fs from 'node:fs';
import { InputError } from '../utils/errors.js';
import { parseFiniteNumber, parseInteger, readLines, RecordError, splitWhitespace, tryRecord, type BadRecord, type ReadOptions } from './records.js';

export interface RunEntry {
  qid: string;
  docid: string;
  /** The run file's rank column (trec_eval ignores it; see `trecOrder`). */
  rank: number;
  score: number;
  tag: string;
}

/** qid → entries, in file order. */
export type Run = Map<string, RunEntry[]>;

/** qid → docid → relevance grade. */
export type Qrels = Map<string, Map<string, number>>;

export interface ReadRunOptions extends ReadOptions {
  /**
   * Replace each score by −rank, so that score order is the rank-column order. For runs whose scores
   * are tied or meaningless (LLM re-rankings: vote counts, −rank) and whose rank column is the ranking.
   */
  scoreFromRank?: boolean;
}

const RUN_FIELDS = ['qid', 'Q0', 'docid', 'rank', 'score', 'tag'];

/** Reads a TREC run. Malformed lines raise an InputError naming file, line and field (or are collected). */
export async function readTrecRun(file: string, opts: ReadRunOptions = {}): Promise<Run> {
  const bad = opts.bad ?? [];
  const run: Run = new Map();
  const seen = new Map<string, Set<string>>();
  for await (const { line, text } of readLines(file)) {
    if (!text.trim()) continue;
    const e = tryRecord(opts, bad, { file, line }, () => {
      const f = splitWhitespace(text);
      if (f.length !== 6) {
        throw new RecordError(RUN_FIELDS[Math.min(f.length, 5)], `expected 6 columns (qid Q0 docid rank score tag), got ${f.length}`);
      }
      const [qid, , docid, rankS, scoreS, tag] = f;
      const rank = parseInteger(rankS, 'rank');
      const score = parseFiniteNumber(scoreS, 'score');
      let docs = seen.get(qid);
      if (!docs) seen.set(qid, (docs = new Set()));
      if (docs.has(docid)) throw new RecordError('docid', `document ${docid} appears twice for query ${qid}`);
      docs.add(docid);
      return { qid, docid, rank, score: opts.scoreFromRank ? -rank : score, tag };
    });
    if (!e) continue;
    let list = run.get(e.qid);
    if (!list) run.set(e.qid, (list = []));
    list.push(e);
  }
  if (opts.scoreFromRank) {
    for (const [qid, list] of run) {
      const ranks = new Set(list.map((e) => e.rank));
      if (ranks.size !== list.length) {
        throw new InputError(`query ${qid} repeats a rank: the rank column cannot order it`, { file, field: 'rank' });
      }
    }
  }
  return run;
}

/**
 * Reads one of the LLM re-ranked TREC runs (e.g. `llm-rerank-runs-dl19/`): the rank column is the
 * teacher's order and the scores are ties (vote counts) or −rank, so scores become −rank and each
 * query's entries come back in rank order.
 */
export async function readLlmRerankRun(file: string, opts: ReadOptions = {}): Promise<Run> {
  const run = await readTrecRun(file, { ...opts, scoreFromRank: true });
  for (const list of run.values()) list.sort((a, b) => a.rank - b.rank);
  return run;
}

/** Byte order of the UTF-8 encodings (C strcmp, as trec_eval compares docnos). */
export function compareBytes(a: string, b: string): number {
  // Code-unit order equals UTF-8 byte order except around surrogate pairs: only then pay for buffers.
  if (/[\ud800-\udfff]/.test(a) || /[\ud800-\udfff]/.test(b)) return Buffer.compare(Buffer.from(a), Buffer.from(b));
  return a < b ? -1 : a > b ? 1 : 0;
}

/** trec_eval's order: score descending, ties by docid descending (strcmp). The rank column is ignored. */
export function trecOrder<T extends { docid: string; score: number }>(entries: readonly T[]): T[] {
  return [...entries].sort((x, y) => (x.score > y.score ? -1 : x.score < y.score ? 1 : compareBytes(y.docid, x.docid)));
}

function checkToken(v: string, field: string, where: string): void {
  if (!v || /\s/.test(v)) throw new InputError(`${where}: ${field} '${v}' is empty or contains whitespace`, { field });
}

/** Formats one run line (shared by the writer and the reranking harness). */
export function formatRunLine(e: RunEntry, tag = e.tag): string {
  const where = `query ${e.qid}, document ${e.docid}`;
  checkToken(e.qid, 'qid', where);
  checkToken(e.docid, 'docid', where);
  checkToken(tag, 'tag', where);
  if (!Number.isFinite(e.score)) throw new InputError(`${where}: score ${e.score} is not finite`, { field: 'score' });
  if (!Number.isInteger(e.rank)) throw new InputError(`${where}: rank ${e.rank} is not an integer`, { field: 'rank' });
  // String(x) is the shortest text that reads back as exactly x.
  return `${e.qid} Q0 ${e.docid} ${e.rank} ${String(e.score)} ${tag}`;
}

/** Writes a TREC run: entries as given (order, ranks), `tag` replacing each entry's tag if given. */
export async function writeTrecRun(file: string, run: Run | readonly RunEntry[], tag?: string): Promise<void> {
  const entries = Array.isArray(run) ? (run as readonly RunEntry[]) : [...(run as Run).values()].flat();
  const lines = entries.map((e) => formatRunLine(e, tag ?? e.tag));
  await fs.promises.writeFile(file, lines.length ? lines.join('\n') + '\n' : '');
}

const QRELS_FIELDS = ['qid', 'iter', 'docid', 'rel'];

/** Reads TREC qrels (`qid iter docid rel`; the iter column, `0` or `Q0`, is ignored). */
export async function readQrels(file: string, opts: ReadOptions = {}): Promise<Qrels> {
  const bad: BadRecord[] = opts.bad ?? [];
  const qrels: Qrels = new Map();
  for await (const { line, text } of readLines(file)) {
    if (!text.trim()) continue;
    const r = tryRecord(opts, bad, { file, line }, () => {
      const f = splitWhitespace(text);
      if (f.length !== 4) throw new RecordError(QRELS_FIELDS[Math.min(f.length, 3)], `expected 4 columns (qid iter docid rel), got ${f.length}`);
      const [qid, , docid, relS] = f;
      const rel = parseInteger(relS, 'rel');
      if (qrels.get(qid)?.has(docid)) throw new RecordError('docid', `document ${docid} is judged twice for query ${qid}`);
      return { qid, docid, rel };
    });
    if (!r) continue;
    let m = qrels.get(r.qid);
    if (!m) qrels.set(r.qid, (m = new Map()));
    m.set(r.docid, r.rel);
  }
  return qrels;
}

// BEIR files: corpus.jsonl (`{"_id", "title", "text"}`), queries.jsonl (`{"_id", "text"}`) and
// qrels/*.tsv (`query-id<TAB>corpus-id<TAB>score` with a header line). Streamed line by line.
import { describe, parseInteger, parseJsonObject, readLines, RecordError, tryRecord, type ReadOptions } from './records.js';
import type { Qrels } from './trec.js';

export interface BeirDocument {
  title: string;
  text: string;
}

function idOf(r: Record<string, unknown>): string {
  const id = r._id;
  // Some BEIR exports write numeric ids; they are names, so keep their text.
  if (typeof id === 'number' && Number.isFinite(id)) return String(id);
  if (typeof id !== 'string' || !id) throw new RecordError('_id', `expected a non-empty string, got ${describe(id)}`);
  if (/\s/.test(id)) throw new RecordError('_id', `id '${id}' contains whitespace`);
  return id;
}

function stringField(r: Record<string, unknown>, field: string, required: boolean): string {
  const v = r[field];
  if (v === undefined || v === null) {
    if (required) throw new RecordError(field, 'missing');
    return '';
  }
  if (typeof v !== 'string') throw new RecordError(field, `expected a string, got ${describe(v)}`);
  return v;
}

/** Reads a BEIR corpus.jsonl into docid → {title, text} (title '' when absent). */
export async function readBeirCorpus(file: string, opts: ReadOptions = {}): Promise<Map<string, BeirDocument>> {
  const bad = opts.bad ?? [];
  const out = new Map<string, BeirDocument>();
  for await (const { line, text } of readLines(file)) {
    if (!text.trim()) continue;
    const r = tryRecord(opts, bad, { file, line }, () => {
      const o = parseJsonObject(text);
      const id = idOf(o);
      const doc = { title: stringField(o, 'title', false), text: stringField(o, 'text', true) };
      if (out.has(id)) throw new RecordError('_id', `document ${id} appears twice`);
      return { id, doc };
    });
    if (r) out.set(r.id, r.doc);
  }
  return out;
}

/** Reads a BEIR queries.jsonl into qid → query text. */
export async function readBeirQueries(file: string, opts: ReadOptions = {}): Promise<Map<string, string>> {
  const bad = opts.bad ?? [];
  const out = new Map<string, string>();
  for await (const { line, text } of readLines(file)) {
    if (!text.trim()) continue;
    const r = tryRecord(opts, bad, { file, line }, () => {
      const o = parseJsonObject(text);
      const id = idOf(o);
      const q = stringField(o, 'text', true);
      if (out.has(id)) throw new RecordError('_id', `query ${id} appears twice`);
      return { id, q };
    });
    if (r) out.set(r.id, r.q);
  }
  return out;
}

/** The text a re-ranker sees for a BEIR document: title and text joined by a space (BEIR's convention). */
export function beirDocumentText(d: BeirDocument): string {
  return d.title ? `${d.title} ${d.text}` : d.text;
}

/** Reads BEIR qrels TSV (`query-id corpus-id score`, header line optional). */
export async function readBeirQrels(file: string, opts: ReadOptions = {}): Promise<Qrels> {
  const bad = opts.bad ?? [];
  const qrels: Qrels = new Map();
  for await (const { line, text } of readLines(file)) {
    if (!text.trim()) continue;
    if (line === 1 && /^query-id\s/.test(text)) continue;
    const r = tryRecord(opts, bad, { file, line }, () => {
      const f = text.trim().split(/\s+/);
      if (f.length !== 3) throw new RecordError(['query-id', 'corpus-id', 'score'][Math.min(f.length, 2)], `expected 3 columns (query-id corpus-id score), got ${f.length}`);
      const rel = parseInteger(f[2], 'score');
      if (qrels.get(f[0])?.has(f[1])) throw new RecordError('corpus-id', `document ${f[1]} is judged twice for query ${f[0]}`);
      return { qid: f[0], docid: f[1], rel };
    });
    if (!r) continue;
    let m = qrels.get(r.qid);
    if (!m) qrels.set(r.qid, (m = new Map()));
    m.set(r.docid, r.rel);
  }
  return qrels;
}

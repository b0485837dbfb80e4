// `id<TAB>text` files: queries (MS MARCO / TREC topics) and passage corpora (MS MARCO collection.tsv,
// NovelEval corpus.tsv). Streamed, so a full collection (8.8M passages) reads without loading the file.
import { readLines, RecordError, tryRecord, type ReadOptions } from './records.js';

export interface TsvOptions extends ReadOptions {
  /**
   * Undo CSV-style quoting (Python's csv writer, used for NovelEval's corpus.tsv): a text field that
   * is entirely `"…"` with every inner quote doubled is unquoted. Default true; a raw passage that is
   * itself one quoted sentence with no inner quotes would lose its outer quotes, so turn it off for
   * files known to be unquoted.
   */
  unquote?: boolean;
  /** Keep only these ids (the rest are skipped unchecked): reading a few documents from a full collection. */
  only?: ReadonlySet<string>;
}

const QUOTED = /^"((?:[^"]|"")*)"$/s;

async function readIdText(file: string, opts: TsvOptions, idField: string): Promise<Map<string, string>> {
  const bad = opts.bad ?? [];
  const out = new Map<string, string>();
  for await (const { line, text } of readLines(file)) {
    if (!text.trim()) continue;
    const r = tryRecord(opts, bad, { file, line }, () => {
      const tab = text.indexOf('\t');
      const id = (tab < 0 ? text : text.slice(0, tab)).trim();
      if (opts.only && !opts.only.has(id)) return null;
      if (tab < 0) throw new RecordError('text', `no tab: expected '${idField}<TAB>text'`);
      if (!id) throw new RecordError(idField, 'empty id');
      if (/\s/.test(id)) throw new RecordError(idField, `id '${id}' contains whitespace`);
      // The text is everything after the first tab: passages may contain tabs themselves.
      let t = text.slice(tab + 1);
      const q = opts.unquote === false ? null : QUOTED.exec(t);
      if (q) t = q[1].replace(/""/g, '"');
      if (!t.trim()) throw new RecordError('text', `empty text for ${idField} ${id}`);
      if (out.has(id)) throw new RecordError(idField, `${idField} ${id} appears twice`);
      return { id, t };
    });
    if (r) out.set(r.id, r.t);
  }
  return out;
}

/** Reads `qid<TAB>query` lines into qid → query text. */
export function readQueriesTsv(file: string, opts: TsvOptions = {}): Promise<Map<string, string>> {
  return readIdText(file, opts, 'qid');
}

/** Reads `docid<TAB>passage` lines into docid → passage text. */
export function readCorpusTsv(file: string, opts: TsvOptions = {}): Promise<Map<string, string>> {
  return readIdText(file, opts, 'docid');
}

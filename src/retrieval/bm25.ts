// In-process BM25 over an inverted index, scored as Lucene ≥ 8 / Anserini do, so that rankings over
// the same corpus match Pyserini's `bm25-default` runs (k1 0.9, b 0.4).
import { englishAnalyzer, type Analyzer } from './analyzer.js';

export interface Bm25Options {
  /** Term-frequency saturation (default 0.9, Anserini's MS MARCO setting). */
  k1?: number;
  /** Length normalisation (default 0.4). */
  b?: number;
  /** Text → terms (default the English analyzer). */
  analyzer?: Analyzer;
  /**
   * Store document lengths with Lucene's one-byte norm encoding (SmallFloat.intToByte4: exact below
   * 24 terms, then 4 significant bits), as Lucene does. Default true, for parity with Anserini.
   */
  luceneLengthEncoding?: boolean;
  /**
   * Score with another collection's statistics (e.g. the full MS MARCO index a candidate list came
   * from) instead of this index's: document count, average length and document frequencies.
   */
  collection?: CollectionStats;
}

export interface CollectionStats {
  docCount: number;
  averageLength: number;
  /** Document frequency of an analysed term (terms it does not know count as df 0). */
  df: (term: string) => number | undefined;
}

export interface Bm25Hit {
  docid: string;
  score: number;
}

interface Posting {
  docs: number[];
  tfs: number[];
}

/** Lucene's SmallFloat.intToByte4 followed by byte4ToInt: the document length Lucene scores with. */
export function luceneDocLength(len: number): number {
  const FREE = 24;
  if (len < FREE) return len;
  const i = len - FREE;
  const numBits = 32 - Math.clz32(i);
  let decoded: number;
  if (numBits < 4) decoded = i;
  else {
    const shift = numBits - 4;
    decoded = ((i >>> shift) & 0x07 | 0x08) * 2 ** shift;
  }
  return FREE + decoded;
}

/** Lucene's BM25 idf: log(1 + (N − df + 0.5) / (df + 0.5)), always positive. */
export function bm25Idf(docCount: number, df: number): number {
  return Math.log(1 + (docCount - df + 0.5) / (df + 0.5));
}

export class Bm25Index {
  readonly k1: number;
  readonly b: number;
  readonly analyzer: Analyzer;
  private readonly lossy: boolean;
  private readonly collection?: CollectionStats;
  private readonly docids: string[] = [];
  private readonly byId = new Map<string, number>();
  private readonly lengths: number[] = [];
  private readonly postings = new Map<string, Posting>();
  private totalLength = 0;

  constructor(opts: Bm25Options = {}) {
    this.k1 = opts.k1 ?? 0.9;
    this.b = opts.b ?? 0.4;
    this.analyzer = opts.analyzer ?? englishAnalyzer();
    this.lossy = opts.luceneLengthEncoding ?? true;
    this.collection = opts.collection;
    if (!(this.k1 >= 0) || !(this.b >= 0 && this.b <= 1)) throw new Error(`BM25 needs k1 >= 0 and 0 <= b <= 1, got k1=${this.k1} b=${this.b}`);
  }

  /** Builds an index from (docid, text) pairs. */
  static fromDocuments(docs: Iterable<{ docid: string; text: string }>, opts: Bm25Options = {}): Bm25Index {
    const index = new Bm25Index(opts);
    for (const d of docs) index.add(d.docid, d.text);
    return index;
  }

  get size(): number {
    return this.docids.length;
  }

  /** Average document length in terms (the collection's when scoring with external statistics). */
  get averageLength(): number {
    if (this.collection) return this.collection.averageLength;
    return this.docids.length ? this.totalLength / this.docids.length : 0;
  }

  private get docCount(): number {
    return this.collection?.docCount ?? this.docids.length;
  }

  /** Adds a document; a docid seen before is ignored (corpora and merged runs repeat passages). */
  add(docid: string, text: string): boolean {
    if (this.byId.has(docid)) return false;
    const d = this.docids.length;
    this.docids.push(docid);
    this.byId.set(docid, d);
    const terms = this.analyzer(text);
    this.lengths.push(terms.length);
    this.totalLength += terms.length;
    const tf = new Map<string, number>();
    for (const t of terms) tf.set(t, (tf.get(t) ?? 0) + 1);
    for (const [t, n] of tf) {
      let p = this.postings.get(t);
      if (!p) this.postings.set(t, (p = { docs: [], tfs: [] }));
      p.docs.push(d);
      p.tfs.push(n);
    }
    return true;
  }

  has(docid: string): boolean {
    return this.byId.has(docid);
  }

  /** Document frequency of an analysed term. */
  df(term: string): number {
    if (this.collection) return this.collection.df(term) ?? 0;
    return this.postings.get(term)?.docs.length ?? 0;
  }

  idf(term: string): number {
    return bm25Idf(this.docCount, this.df(term));
  }

  /** Query terms with their counts (a repeated term counts as often as it appears, like Anserini's bag of words). */
  private queryTerms(query: string | readonly string[]): Map<string, number> {
    const q = new Map<string, number>();
    for (const t of typeof query === 'string' ? this.analyzer(query) : query) q.set(t, (q.get(t) ?? 0) + 1);
    return q;
  }

  private termWeight(tf: number, len: number): number {
    const dl = this.lossy ? luceneDocLength(len) : len;
    // Lucene ≥ 8 dropped the constant (k1 + 1) factor; it does not change rankings.
    return tf / (tf + this.k1 * (1 - this.b + (this.b * dl) / this.averageLength));
  }

  /** Scores of every matching document (document index → score). */
  private accumulate(query: string | readonly string[]): Map<number, number> {
    const acc = new Map<number, number>();
    for (const [term, qtf] of this.queryTerms(query)) {
      const p = this.postings.get(term);
      if (!p) continue;
      const idf = this.idf(term) * qtf;
      for (let i = 0; i < p.docs.length; i++) {
        const d = p.docs[i];
        acc.set(d, (acc.get(d) ?? 0) + idf * this.termWeight(p.tfs[i], this.lengths[d]));
      }
    }
    return acc;
  }

  /** The top k documents, by score then docid (trec_eval's tie order). */
  search(query: string, k = 1000): Bm25Hit[] {
    const hits = [...this.accumulate(query)].map(([d, score]) => ({ docid: this.docids[d], score }));
    hits.sort((x, y) => y.score - x.score || (x.docid < y.docid ? 1 : x.docid > y.docid ? -1 : 0));
    return hits.slice(0, k);
  }

  /**
   * BM25 score of given indexed documents (0 for no match); throws on a docid not in the index. The
   * query is text, or already-analysed terms (expanded or weighted queries: repeat a term to weight it).
   */
  score(query: string | readonly string[], docids: readonly string[]): number[] {
    const acc = this.accumulate(query);
    return docids.map((id) => {
      const d = this.byId.get(id);
      if (d === undefined) throw new Error(`document ${id} is not in the BM25 index`);
      return acc.get(d) ?? 0;
    });
  }
}

/**
 * A scorer for pre-ranking: BM25 of each document against the query. With an index, its collection
 * statistics are used (documents missing from it are added first); without, each call builds an
 * index over the given documents alone (candidate-local statistics).
 */
export function bm25Scorer(index?: Bm25Index, opts: Bm25Options = {}): (query: string, docs: ReadonlyArray<{ docid: string; text: string }>) => number[] {
  return (query, docs) => {
    const idx = index ?? Bm25Index.fromDocuments(docs, opts);
    for (const d of docs) if (!idx.has(d.docid)) idx.add(d.docid, d.text);
    return idx.score(query, docs.map((d) => d.docid));
  };
}

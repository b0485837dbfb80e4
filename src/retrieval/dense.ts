// Dense retrieval: a corpus embedded by a bi-encoder, stored on disk, searched exactly by inner product.
//
// On-disk layout of an index directory (all written by `DenseIndex.build`):
//   meta.json        {"format": "rankdistill-dense-index", "version": 1, "dim", "count", "dtype": "float32",
//                     "byteOrder": "little", "normalized", "model": {fingerprint, ...}, "corpus": {sha256, count},
//                     "chunkSize", "batchSize", "complete"} — no timestamps, so equal builds are equal bytes
//   ids.txt          the document ids, one per line; line i names row i (corpus order)
//   embeddings.f32   count × dim float32, little-endian, row-major, no header
// The build embeds the corpus chunk by chunk (`chunkSize` documents, batched longest-first inside a
// chunk) and appends each chunk to embeddings.f32 when it is complete. A killed build resumes from the
// file's last whole chunk (a torn last write is cut off): the same chunks see the same batches, so the
// result is byte-identical to an uninterrupted build. meta.json says `"complete": true` at the end.
//
// Search is exact: per block of corpus rows, scores = Q·Bᵀ (tf.matMul) and the block's top k
// (tf.topk), merged across blocks into each query's top k (ties: lower row first).
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { ensureBackend } from '../backend/index.js';
import { InputError } from '../utils/errors.js';
import { Progress } from '../utils/progress.js';

/** What a dense index needs from a model (BiEncoder implements it). */
export interface Embedder {
  /** Width of the vectors. */
  readonly dimension: number;
  /** 'cosine' models get unit-length rows in the index, so the inner product is their score. */
  readonly similarity?: 'cosine' | 'dot';
  /** Vectors of `texts`, row-major [texts.length × dimension], in input order. */
  embed(texts: readonly string[], opts?: { batchSize?: number; onBatch?: (done: number) => void }): Promise<Float32Array>;
  /** Identifies the weights and settings: a build is resumed only by the model that started it. */
  fingerprint(): string;
}

export interface DenseDocument {
  id: string;
  text: string;
}

export interface DenseBuildOptions {
  /** Texts per forward pass (default 32). */
  batchSize?: number;
  /** Documents per chunk appended to disk (default 1024): the work a kill can lose. */
  chunkSize?: number;
  /** Store unit-length rows (default: true for a 'cosine' embedder). */
  normalize?: boolean;
  /** Discard an existing index of another corpus or model in `dir` instead of refusing. */
  overwrite?: boolean;
  /** Progress line on stderr (default true). */
  progress?: boolean;
  /** Extra fields for meta.json's `model` (e.g. the model path). */
  modelInfo?: Record<string, unknown>;
  /** Called after each chunk is on disk, with the rows done. */
  onChunk?: (rowsDone: number) => void | Promise<void>;
}

export interface DenseHit {
  id: string;
  row: number;
  score: number;
}

export interface DenseSearchOptions {
  /** Corpus rows scored per matMul (default 16384). */
  blockRows?: number;
  /** Queries scored together (default 256). */
  queryBatch?: number;
}

export interface DenseIndexMeta {
  format: 'rankdistill-dense-index';
  version: 1;
  dim: number;
  count: number;
  dtype: 'float32';
  byteOrder: 'little';
  normalized: boolean;
  model: Record<string, unknown> & { fingerprint: string };
  corpus: { sha256: string; count: number };
  chunkSize: number;
  batchSize: number;
  complete: boolean;
}

export const DENSE_FILES = { meta: 'meta.json', ids: 'ids.txt', embeddings: 'embeddings.f32' } as const;

/** Writes a file atomically (temporary file + rename), so a kill never leaves it half-written. */
function writeAtomic(file: string, data: string | Buffer): void {
  const tmp = `${file}.tmp-${process.pid}`;
  fs.writeFileSync(tmp, data);
  fs.renameSync(tmp, file);
}

function metaText(m: DenseIndexMeta): string {
  return `${JSON.stringify(m, null, 2)}\n`;
}

/** sha256 over the ids and texts, in order: the corpus a build belongs to. */
export function corpusFingerprint(docs: readonly DenseDocument[]): string {
  const h = crypto.createHash('sha256');
  for (const d of docs) h.update(`${d.id}\t${d.text.length}\t`).update(d.text).update('\n');
  return h.digest('hex');
}

function checkDocs(docs: readonly DenseDocument[]): void {
  const seen = new Set<string>();
  docs.forEach((d, i) => {
    if (typeof d.id !== 'string' || !d.id || /\s/.test(d.id)) throw new InputError(`document ids must be non-empty without whitespace, got ${JSON.stringify(d.id)}`, { field: `docs[${i}].id` });
    if (seen.has(d.id)) throw new InputError(`document ${d.id} appears twice`, { field: `docs[${i}].id` });
    if (typeof d.text !== 'string') throw new InputError(`expected a string, got ${typeof d.text}`, { field: `docs[${i}].text` });
    seen.add(d.id);
  });
}

function normalizeRows(v: Float32Array, dim: number): void {
  for (let r = 0; r < v.length / dim; r++) {
    let s = 0;
    for (let k = r * dim; k < (r + 1) * dim; k++) s += v[k] * v[k];
    const n = Math.max(Math.sqrt(s), 1e-12);
    for (let k = r * dim; k < (r + 1) * dim; k++) v[k] /= n;
  }
}

/** Reads rows [start, start + count) of a row-major float32 source. */
export interface RowSource {
  rows: number;
  dim: number;
  read(start: number, count: number): Float32Array;
}

/** Rows of an in-memory matrix. */
export function memoryRows(data: Float32Array, dim: number): RowSource {
  if (data.length % dim !== 0) throw new Error(`matrix of ${data.length} values is not a whole number of rows of ${dim}`);
  return { rows: data.length / dim, dim, read: (s, c) => data.subarray(s * dim, (s + c) * dim) };
}

/**
 * Exact top-k by inner product of each query row against every source row, in blocks: per block a
 * matMul and tf.topk, merged into a running top k. Ties go to the lower row. Returns [query][rank].
 */
export function topKInnerProduct(queries: Float32Array, corpus: RowSource, k: number, opts: DenseSearchOptions = {}): Array<Array<{ row: number; score: number }>> {
  ensureBackend();
  const { dim } = corpus;
  if (queries.length % dim !== 0) throw new Error(`query matrix of ${queries.length} values is not a whole number of rows of ${dim}`);
  if (!(Number.isInteger(k) && k >= 1)) throw new InputError(`k must be a positive integer, got ${k}`, { field: 'k' });
  const nq = queries.length / dim;
  const blockRows = opts.blockRows ?? 16384;
  const queryBatch = opts.queryBatch ?? 256;
  const out: Array<Array<{ row: number; score: number }>> = Array.from({ length: nq }, () => []);
  const byScore = (a: { row: number; score: number }, b: { row: number; score: number }) => b.score - a.score || a.row - b.row;
  for (let qs = 0; qs < nq; qs += queryBatch) {
    const qn = Math.min(queryBatch, nq - qs);
    const q = tf.tensor2d(queries.subarray(qs * dim, (qs + qn) * dim), [qn, dim]);
    try {
      for (let start = 0; start < corpus.rows; start += blockRows) {
        const n = Math.min(blockRows, corpus.rows - start);
        const kk = Math.min(k, n);
        const block = corpus.read(start, n);
        const { values, indices } = tf.tidy(() => {
          const scores = tf.matMul(q, tf.tensor2d(block, [n, dim]), false, true);
          const t = tf.topk(scores, kk, true);
          return { values: t.values.dataSync() as Float32Array, indices: t.indices.dataSync() as Int32Array };
        });
        for (let i = 0; i < qn; i++) {
          const cur = out[qs + i];
          for (let j = 0; j < kk; j++) cur.push({ row: start + indices[i * kk + j], score: values[i * kk + j] });
          cur.sort(byScore);
          cur.length = Math.min(cur.length, k);
        }
      }
    } finally {
      q.dispose();
    }
  }
  return out;
}

export class DenseIndex {
  private constructor(
    readonly dir: string,
    readonly meta: DenseIndexMeta,
    readonly ids: string[],
  ) {}

  get size(): number {
    return this.meta.count;
  }

  get dimension(): number {
    return this.meta.dim;
  }

  static files(dir: string): { meta: string; ids: string; embeddings: string } {
    return { meta: path.join(dir, DENSE_FILES.meta), ids: path.join(dir, DENSE_FILES.ids), embeddings: path.join(dir, DENSE_FILES.embeddings) };
  }

  /** Reads meta.json (or undefined when there is none). */
  static readMeta(dir: string): DenseIndexMeta | undefined {
    const file = DenseIndex.files(dir).meta;
    if (!fs.existsSync(file)) return undefined;
    let m: Record<string, unknown>;
    try {
      m = JSON.parse(fs.readFileSync(file, 'utf8')) as Record<string, unknown>;
    } catch (e) {
      throw new InputError(`cannot read index metadata: ${(e as Error).message}`, { file });
    }
    if (m?.format !== 'rankdistill-dense-index') throw new InputError(`not a rankdistill dense index (format ${JSON.stringify(m?.format)})`, { file, field: 'format' });
    if (m.version !== 1) throw new InputError(`unsupported version ${JSON.stringify(m.version)} (this library reads 1)`, { file, field: 'version' });
    for (const k of ['dim', 'count', 'chunkSize', 'batchSize'] as const) {
      const v = m[k];
      if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) throw new InputError(`expected a non-negative integer, got ${JSON.stringify(v)}`, { file, field: k });
    }
    return m as unknown as DenseIndexMeta;
  }

  /**
   * Embeds `docs` into an index in `dir`, or finishes a build a kill interrupted (same corpus, model
   * and chunking), or opens the finished index when there is nothing left to do.
   */
  static async build(dir: string, docs: readonly DenseDocument[], embedder: Embedder, opts: DenseBuildOptions = {}): Promise<DenseIndex> {
    checkDocs(docs);
    const batchSize = opts.batchSize ?? 32;
    const chunkSize = opts.chunkSize ?? 1024;
    if (!(Number.isInteger(batchSize) && batchSize >= 1)) throw new InputError(`batchSize must be a positive integer, got ${batchSize}`, { field: 'batchSize' });
    if (!(Number.isInteger(chunkSize) && chunkSize >= 1)) throw new InputError(`chunkSize must be a positive integer, got ${chunkSize}`, { field: 'chunkSize' });
    const dim = embedder.dimension;
    const files = DenseIndex.files(dir);
    const meta: DenseIndexMeta = {
      format: 'rankdistill-dense-index',
      version: 1,
      dim,
      count: docs.length,
      dtype: 'float32',
      byteOrder: 'little',
      normalized: opts.normalize ?? embedder.similarity === 'cosine',
      model: { ...opts.modelInfo, fingerprint: embedder.fingerprint() },
      corpus: { sha256: corpusFingerprint(docs), count: docs.length },
      chunkSize,
      batchSize,
      complete: false,
    };
    const old = DenseIndex.readMeta(dir);
    if (old) {
      const same = old.dim === meta.dim && old.normalized === meta.normalized && old.model.fingerprint === meta.model.fingerprint && old.corpus.sha256 === meta.corpus.sha256 && old.chunkSize === chunkSize && old.batchSize === batchSize;
      if (!same && !opts.overwrite) {
        const what = old.corpus.sha256 !== meta.corpus.sha256 ? 'corpus.sha256' : old.model.fingerprint !== meta.model.fingerprint ? 'model.fingerprint' : old.chunkSize !== chunkSize ? 'chunkSize' : old.batchSize !== batchSize ? 'batchSize' : old.dim !== meta.dim ? 'dim' : 'normalized';
        throw new InputError(`${dir} holds an index built with another ${what.replace(/\..*/, '')} (${what} differs); use another directory or overwrite it`, { file: files.meta, field: what });
      }
      if (same && old.complete) return DenseIndex.open(dir);
      if (!same) fs.rmSync(dir, { recursive: true, force: true });
    }
    fs.mkdirSync(dir, { recursive: true });
    if (!old || !fs.existsSync(files.ids) || !fs.existsSync(files.embeddings)) {
      writeAtomic(files.ids, docs.map((d) => `${d.id}\n`).join(''));
      fs.writeFileSync(files.embeddings, Buffer.alloc(0));
      writeAtomic(files.meta, metaText(meta));
    }
    // Rows already on disk, cut back to the last whole chunk (a kill may have torn the last write).
    const rowBytes = dim * 4;
    const onDisk = Math.min(docs.length, Math.floor(fs.statSync(files.embeddings).size / rowBytes));
    const done = onDisk === docs.length ? onDisk : Math.floor(onDisk / chunkSize) * chunkSize;
    fs.truncateSync(files.embeddings, done * rowBytes);
    const progress = new Progress({ total: docs.length, start: done, label: 'dense index', unit: 'docs', silent: opts.progress === false });
    if (done > 0 && done < docs.length && opts.progress !== false) process.stderr.write(`dense index: resuming ${dir} at document ${done} of ${docs.length}\n`);
    const fd = fs.openSync(files.embeddings, 'r+');
    try {
      for (let s = done; s < docs.length; s += chunkSize) {
        const chunk = docs.slice(s, s + chunkSize);
        let ticked = 0;
        const vecs = await embedder.embed(
          chunk.map((d) => d.text),
          {
            batchSize,
            onBatch: (n) => {
              progress.tick(n - ticked);
              ticked = n;
            },
          },
        );
        if (vecs.length !== chunk.length * dim) throw new Error(`embedder returned ${vecs.length} values for ${chunk.length} texts of dimension ${dim}`);
        if (meta.normalized) normalizeRows(vecs, dim);
        const bytes = Buffer.from(vecs.buffer, vecs.byteOffset, vecs.byteLength);
        // Float32Array is host-endian; every platform Node supports is little-endian, as the layout says.
        fs.writeSync(fd, bytes, 0, bytes.length, s * rowBytes);
        await opts.onChunk?.(s + chunk.length);
      }
    } finally {
      fs.closeSync(fd);
    }
    progress.finish();
    writeAtomic(files.meta, metaText({ ...meta, complete: true }));
    return DenseIndex.open(dir);
  }

  /** Opens a finished index (its files checked against meta.json). */
  static open(dir: string): DenseIndex {
    const meta = DenseIndex.readMeta(dir);
    const files = DenseIndex.files(dir);
    if (!meta) throw new InputError('no dense index here (meta.json not found)', { file: dir });
    if (!meta.complete) throw new InputError('the index build has not finished (run the build again to resume it)', { file: files.meta, field: 'complete' });
    if (!fs.existsSync(files.ids)) throw new InputError('ids file not found', { file: files.ids });
    const ids = fs.readFileSync(files.ids, 'utf8').split('\n');
    if (ids[ids.length - 1] === '') ids.pop();
    if (ids.length !== meta.count) throw new InputError(`${ids.length} ids, but meta.json says count ${meta.count}`, { file: files.ids });
    const size = fs.existsSync(files.embeddings) ? fs.statSync(files.embeddings).size : -1;
    if (size !== meta.count * meta.dim * 4) {
      throw new InputError(`${size < 0 ? 'missing' : `${size} bytes`}, expected ${meta.count} × ${meta.dim} float32 = ${meta.count * meta.dim * 4} bytes`, { file: files.embeddings });
    }
    return new DenseIndex(dir, meta, ids);
  }

  /** Rows read from embeddings.f32 on demand (memory bounded by the search block). */
  rows(): RowSource {
    const file = DenseIndex.files(this.dir).embeddings;
    const dim = this.meta.dim;
    return {
      rows: this.meta.count,
      dim,
      read: (start, count) => {
        const buf = Buffer.alloc(count * dim * 4);
        const fd = fs.openSync(file, 'r');
        try {
          fs.readSync(fd, buf, 0, buf.length, start * dim * 4);
        } finally {
          fs.closeSync(fd);
        }
        return new Float32Array(buf.buffer, buf.byteOffset, count * dim);
      },
    };
  }

  /** The stored vector of a document. */
  vector(id: string): Float32Array {
    const row = this.ids.indexOf(id);
    if (row < 0) throw new Error(`document ${id} is not in the index`);
    return this.rows().read(row, 1).slice();
  }

  /** Exact top-k documents for query vectors (row-major [queries × dim]). */
  searchVectors(queries: Float32Array, k: number, opts: DenseSearchOptions = {}): DenseHit[][] {
    const q = queries.slice();
    if (this.meta.normalized) normalizeRows(q, this.meta.dim);
    return topKInnerProduct(q, this.rows(), k, opts).map((hits) => hits.map((h) => ({ id: this.ids[h.row], row: h.row, score: h.score })));
  }

  /** Embeds the queries with `embedder` (the model that built the index) and searches. */
  async search(queries: readonly string[], embedder: Embedder, k: number, opts: DenseSearchOptions & { batchSize?: number } = {}): Promise<DenseHit[][]> {
    if (embedder.fingerprint() !== this.meta.model.fingerprint) {
      throw new InputError('the index was built by another model (fingerprints differ): embed the queries with the same model', { file: DenseIndex.files(this.dir).meta, field: 'model.fingerprint' });
    }
    if (embedder.dimension !== this.meta.dim) throw new InputError(`model dimension ${embedder.dimension} differs from the index's ${this.meta.dim}`, { file: DenseIndex.files(this.dir).meta, field: 'dim' });
    return this.searchVectors(await embedder.embed(queries, { batchSize: opts.batchSize }), k, opts);
  }
}

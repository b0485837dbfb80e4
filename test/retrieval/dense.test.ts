// Dense retrieval: exact blocked top-k against a float64 brute force (exactly representable vectors, so
// ties are real ties), and DenseIndex builds over a tiny bi-encoder: the documented layout, rows equal
// to the model's vectors, reuse, refusal of another corpus or model, and resuming a torn build to the
// same bytes. (The killed child process is in retrieve-cli.test.ts.)
import { expect } from 'chai';
import fs from 'node:fs';
import path from 'node:path';
import { BiEncoder } from '../../src/models/bi-encoder/index.js';
import { corpusFingerprint, DenseIndex, memoryRows, topKInnerProduct, type DenseDocument } from '../../src/retrieval/dense.js';
import { SeededRandom } from '../../src/training/random.js';
import { TextTokenizer } from '../../src/tokenization/tokenizer.js';
import { InputError } from '../../src/utils/errors.js';
import { dataPath, expectClose, expectNoLeak, tmpDir } from '../helpers.js';

/** Float64 reference: every row's inner product, sorted by score then row. */
function bruteForce(q: Float32Array, c: Float32Array, dim: number, k: number): Array<Array<{ row: number; score: number }>> {
  const nq = q.length / dim;
  const n = c.length / dim;
  return Array.from({ length: nq }, (_, i) => {
    const all = Array.from({ length: n }, (_, r) => {
      let s = 0;
      for (let j = 0; j < dim; j++) s += q[i * dim + j] * c[r * dim + j];
      return { row: r, score: s };
    });
    return all.sort((a, b) => b.score - a.score || a.row - b.row).slice(0, k);
  });
}

/** Values in {−2, −1.5, …, 2}: products and sums of a few are exact in float32, so ties are exact. */
function gridMatrix(rows: number, dim: number, rng: SeededRandom): Float32Array {
  return Float32Array.from({ length: rows * dim }, () => (rng.int(9) - 4) / 2);
}

describe('retrieval/dense: exact top-k by inner product in blocks', () => {
  const CASES: Array<[number, number, number, number, number, number]> = [
    // rows, dim, queries, k, blockRows, queryBatch
    [200, 8, 5, 10, 16384, 256],
    [200, 8, 5, 10, 7, 2],
    [200, 8, 5, 10, 1, 256],
    [57, 3, 9, 57, 10, 4],
    [30, 4, 3, 100, 8, 1], // k above the corpus size: every row, ranked
    [1000, 16, 33, 25, 128, 16],
  ];
  for (const [rows, dim, nq, k, blockRows, queryBatch] of CASES) {
    it(`equals the float64 brute force, ties to the lower row (${rows} rows × ${dim}, k ${k}, blocks of ${blockRows}, ${queryBatch} queries at a time)`, async () => {
      const rng = new SeededRandom(rows * 31 + dim);
      const c = gridMatrix(rows, dim, rng);
      const q = gridMatrix(nq, dim, rng);
      const got = await expectNoLeak(() => topKInnerProduct(q, memoryRows(c, dim), k, { blockRows, queryBatch }), 'search');
      expect(got).to.deep.equal(bruteForce(q, c, dim, k));
      // The grid makes ties common: the case is only meaningful if some top-k boundary falls inside one.
      if (rows >= 200) expect(got.some((hits) => hits.some((h, i) => i > 0 && h.score === hits[i - 1].score))).to.equal(true);
    });
  }

  it('rejects a bad k and ragged matrices', () => {
    expect(() => topKInnerProduct(new Float32Array(4), memoryRows(new Float32Array(8), 4), 0)).to.throw(InputError, /k must be a positive integer/);
    expect(() => topKInnerProduct(new Float32Array(5), memoryRows(new Float32Array(8), 4), 1)).to.throw(/not a whole number of rows/);
    expect(() => memoryRows(new Float32Array(7), 4)).to.throw(/not a whole number of rows/);
  });
});

describe('retrieval/dense: DenseIndex', function () {
  this.timeout(300000);
  const tokenizer = TextTokenizer.fromDir(dataPath('ms-marco-TinyBERT-L-2-v2-tokenizer-config'));
  const make = (seed = 4) =>
    new BiEncoder({ hidden_size: 16, num_hidden_layers: 1, num_attention_heads: 2, intermediate_size: 32, max_position_embeddings: 40 }, { tokenizer, seed });
  const WORDS = ['water', 'boils', 'at', 'sea', 'level', 'tower', 'paris', 'iron', 'height', 'river', 'flows', 'north', 'the', 'a', 'of'];
  const rng = new SeededRandom(8);
  const docs: DenseDocument[] = Array.from({ length: 150 }, (_, i) => ({ id: `d${i}`, text: Array.from({ length: 2 + rng.int(30) }, () => WORDS[rng.int(WORDS.length)]).join(' ') }));
  const queries = ['water boiling point', 'height of the tower in paris', 'which way does the river flow'];
  let model: BiEncoder;
  let ref: string;

  before(async () => {
    model = make();
    ref = path.join(tmpDir(), 'ref');
    await DenseIndex.build(ref, docs, model, { batchSize: 8, chunkSize: 32, progress: false });
  });
  after(() => model.dispose());

  const bytes = (dir: string) => Object.fromEntries(Object.values(DenseIndex.files(dir)).map((f) => [path.basename(f), fs.readFileSync(f).toString('hex')]));

  it('writes the documented layout: meta.json, ids.txt, embeddings.f32 rows = the model vectors', async () => {
    expect(fs.readdirSync(ref).sort()).to.deep.equal(['embeddings.f32', 'ids.txt', 'meta.json']);
    const meta = JSON.parse(fs.readFileSync(path.join(ref, 'meta.json'), 'utf8'));
    expect(meta).to.deep.include({ format: 'rankdistill-dense-index', version: 1, dim: 16, count: 150, dtype: 'float32', byteOrder: 'little', normalized: true, chunkSize: 32, batchSize: 8, complete: true });
    expect(meta.model.fingerprint).to.equal(model.fingerprint());
    expect(meta.corpus).to.deep.equal({ sha256: corpusFingerprint(docs), count: 150 });
    expect(fs.readFileSync(path.join(ref, 'ids.txt'), 'utf8')).to.equal(docs.map((d) => `${d.id}\n`).join(''));
    const buf = fs.readFileSync(path.join(ref, 'embeddings.f32'));
    expect(buf.length).to.equal(150 * 16 * 4);
    const stored = new Float32Array(buf.buffer, buf.byteOffset, 150 * 16);
    const want = await model.embed(docs.map((d) => d.text), { batchSize: 5 });
    expectClose(stored, want, 1e-6, 0, 'stored rows');
    const index = DenseIndex.open(ref);
    expect(index.size).to.equal(150);
    expectClose(index.vector('d17'), want.subarray(17 * 16, 18 * 16), 1e-6, 0, 'vector(d17)');
  });

  it('search embeds the queries and returns the exact top k by cosine', async () => {
    const index = DenseIndex.open(ref);
    const hits = await expectNoLeak(() => index.search(queries, model, 12, { blockRows: 40 }), 'search');
    const q = await model.embed(queries);
    const stored = index.rows().read(0, 150);
    const want = bruteForce(q, stored, 16, 12);
    hits.forEach((h, i) => {
      expect(h.map((x) => x.id)).to.deep.equal(want[i].map((x) => docs[x.row].id));
      expectClose(h.map((x) => x.score), want[i].map((x) => x.score), 1e-6, 0, `query ${i} scores`);
    });
  });

  it('a finished index is reused without embedding again', async () => {
    let chunks = 0;
    const before = bytes(ref);
    await DenseIndex.build(ref, docs, model, { batchSize: 8, chunkSize: 32, progress: false, onChunk: () => void chunks++ });
    expect(chunks).to.equal(0);
    expect(bytes(ref)).to.deep.equal(before);
  });

  it('resumes a build whose last write was torn to the same bytes as an uninterrupted one', async () => {
    const dir = path.join(tmpDir(), 'torn');
    // Stop after the third chunk, as a kill would; then tear the file inside the fourth chunk.
    const stop = new Error('killed');
    const err = await DenseIndex.build(dir, docs, model, {
      batchSize: 8,
      chunkSize: 32,
      progress: false,
      onChunk: (n) => {
        if (n === 96) throw stop;
      },
    }).catch((e: unknown) => e);
    expect(err).to.equal(stop);
    expect(JSON.parse(fs.readFileSync(path.join(dir, 'meta.json'), 'utf8')).complete).to.equal(false);
    expect(() => DenseIndex.open(dir)).to.throw(InputError, /has not finished/);
    fs.appendFileSync(path.join(dir, 'embeddings.f32'), Buffer.alloc(16 * 4 * 5 + 7, 0xab));
    const resumedAt: number[] = [];
    await DenseIndex.build(dir, docs, model, { batchSize: 8, chunkSize: 32, progress: false, onChunk: (n) => void resumedAt.push(n) });
    expect(resumedAt).to.deep.equal([128, 150]);
    expect(bytes(dir)).to.deep.equal(bytes(ref));
  });

  it('refuses an index of another corpus, model or chunking (naming the field) unless told to overwrite', async () => {
    const dir = path.join(tmpDir(), 'other');
    fs.cpSync(ref, dir, { recursive: true });
    const attempt = (d: DenseDocument[], m: BiEncoder, chunkSize = 32) => DenseIndex.build(dir, d, m, { batchSize: 8, chunkSize, progress: false }).catch((e: unknown) => e as InputError);
    const e1 = await attempt(docs.slice(1), model);
    expect(e1).to.be.instanceOf(InputError);
    expect((e1 as InputError).location).to.deep.equal({ file: path.join(dir, 'meta.json'), field: 'corpus.sha256' });
    const other = make(5);
    const e2 = await attempt(docs, other);
    expect((e2 as InputError).location.field).to.equal('model.fingerprint');
    const e3 = await attempt(docs, model, 64);
    expect((e3 as InputError).location.field).to.equal('chunkSize');
    // Searching with a different model is refused too: its query vectors would live in another space.
    const e4 = await DenseIndex.open(dir).search(queries, other, 3).catch((e: unknown) => e);
    expect((e4 as InputError).location.field).to.equal('model.fingerprint');
    await DenseIndex.build(dir, docs.slice(0, 20), other, { batchSize: 8, chunkSize: 32, progress: false, overwrite: true });
    expect(DenseIndex.open(dir).size).to.equal(20);
    other.dispose();
  });

  it('rejects bad documents and damaged index files', async () => {
    const dir = path.join(tmpDir(), 'bad');
    const bad = async (d: DenseDocument[]) => (await DenseIndex.build(dir, d, model, { progress: false }).catch((e: unknown) => e)) as InputError;
    expect((await bad([{ id: 'a', text: 'x' }, { id: 'a', text: 'y' }])).location.field).to.equal('docs[1].id');
    expect((await bad([{ id: 'a b', text: 'x' }])).location.field).to.equal('docs[0].id');
    const dmg = path.join(tmpDir(), 'damaged');
    fs.cpSync(ref, dmg, { recursive: true });
    fs.truncateSync(path.join(dmg, 'embeddings.f32'), 100);
    expect(() => DenseIndex.open(dmg)).to.throw(InputError, /embeddings\.f32: 100 bytes, expected 150 × 16 float32 = 9600 bytes/);
    fs.writeFileSync(path.join(dmg, 'meta.json'), '{"format": "something-else"}');
    expect(() => DenseIndex.open(dmg)).to.throw(InputError, /meta\.json: field 'format': not a rankdistill dense index/);
    expect(() => DenseIndex.open(path.join(dmg, 'nothing'))).to.throw(InputError, /meta\.json not found/);
  });
});

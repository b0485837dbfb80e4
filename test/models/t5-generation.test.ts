// T5 generation: the key/value cache gives the same tokens (and logits) as recomputing the prefix,
// sampling is seeded and honours top-k / top-p, and the docT5query generator produces queries.
import { expect } from 'chai';
import * as tf from '@tensorflow/tfjs-core';
import { augmentQueries, type QueryGenerator } from '../../src/augmentation/index.js';
import { argmax, DocT5QueryGenerator, generate, sampleToken, topKIndices } from '../../src/models/t5/generation.js';
import { loadT5, T5Model, type KV } from '../../src/models/t5/model.js';
import { TextTokenizer } from '../../src/tokenization/tokenizer.js';
import { SeededRandom } from '../../src/utils/random.js';
import { dataPath, expectClose, expectNoLeak } from '../helpers.js';

const TOK_DIR = dataPath('t5-small-spiece');

describe('T5 generation', function () {
  this.timeout(120000);
  let model: T5Model;
  let tok: TextTokenizer;
  let ids: tf.Tensor2D;
  let mask: tf.Tensor2D;
  before(async () => {
    model = loadT5(dataPath('hf-fixtures', 't5-v1_1-tiny-random')).model;
    tok = TextTokenizer.fromDir(TOK_DIR);
    const enc = await tok.encodeBatch(['who wrote Frankenstein', 'Query: boiling point of water at altitude Document: water boils at lower temperatures higher up']);
    ids = tf.tensor2d(enc.inputIds, [enc.batch, enc.seqLen], 'int32');
    mask = tf.tensor2d(enc.attentionMask, [enc.batch, enc.seqLen], 'int32');
  });
  after(() => {
    tf.dispose([ids, mask]);
    model.dispose();
  });

  it('step-by-step decoding with the cache gives the logits of a full teacher-forced pass', async () => {
    const dec = [[0, 37, 8774, 1176, 6136, 5], [0, 5, 6, 7, 8, 9]];
    await expectNoLeak(() => {
      const [full, stepped] = tf.tidy(() => {
        const hidden = model.encode(ids, mask).lastHiddenState;
        const full = model.lmLogits(model.decode(tf.tensor2d(dec, undefined, 'int32'), { hidden, mask }).hidden);
        const crossKV = model.crossKV(hidden);
        let past: KV[] | undefined;
        const steps: tf.Tensor3D[] = [];
        for (let t = 0; t < dec[0].length; t++) {
          const out = model.decode(tf.tensor2d(dec.map((r) => [r[t]]), undefined, 'int32'), { hidden, mask, crossKV }, { past, useCache: true });
          past = out.present;
          steps.push(model.lmLogits(out.hidden));
        }
        return [full.dataSync(), tf.concat(steps, 1).dataSync()];
      });
      expectClose(stepped, full, 1e-4, 1e-3, 'cached vs full logits');
    }, 'cached decoding');
  });

  it('greedy: with cache equals without, batch rows equal single rows, stops at EOS', async () => {
    await expectNoLeak(async () => {
      const a = await generate(model, ids, mask, { maxNewTokens: 12 });
      const b = await generate(model, ids, mask, { maxNewTokens: 12, useCache: false });
      expect(a).to.deep.equal(b);
      expect(a[0].length).to.be.greaterThan(0);
      // Row 0 alone (unpadded) gives the same tokens as in the padded batch.
      const len = (await tok.encode('who wrote Frankenstein')).ids.length;
      const one = tf.slice(ids, [0, 0], [1, len]);
      const single = await generate(model, one, undefined, { maxNewTokens: 12 });
      one.dispose();
      expect(single[0]).to.deep.equal(a[0]);
      // Make the first greedy token the EOS id: generation stops right after it.
      const first = a[1][0];
      const stop = await generate(model, ids, mask, { maxNewTokens: 12, eosTokenId: first });
      expect(stop[1]).to.deep.equal([first]);
    }, 'generate');
  });

  it('sampling is reproducible from the seed, differs across seeds, and the cache does not change it', async () => {
    const o = { maxNewTokens: 10, doSample: true, topK: 50, topP: 0.95, temperature: 1.5, eosTokenId: -1 };
    const a = await generate(model, ids, mask, { ...o, seed: 1 });
    const b = await generate(model, ids, mask, { ...o, seed: 1, useCache: false });
    const c = await generate(model, ids, mask, { ...o, seed: 2 });
    expect(a).to.deep.equal(b);
    expect(a).to.not.deep.equal(c);
    expect(a[0]).to.have.length(10);
  });

  it('sampleToken: top-k keeps the k best, top-p the smallest nucleus, frequencies follow softmax', () => {
    const logits = [2, 1, 0, -1, 3];
    const rng = new SeededRandom(7);
    const count = (opts: object, n = 4000) => {
      const c = new Array(logits.length).fill(0);
      for (let i = 0; i < n; i++) c[sampleToken(logits, rng, opts)]++;
      return c.map((x) => x / n);
    };
    expect(count({ topK: 1 })).to.deep.equal([0, 0, 0, 0, 1]);
    const k2 = count({ topK: 2 });
    expect(k2[1] + k2[2] + k2[3]).to.equal(0);
    expect(k2[4]).to.be.closeTo(Math.exp(3) / (Math.exp(3) + Math.exp(2)), 0.03);
    // softmax ≈ [.237, .087, .032, .012, .644]: p = 0.85 keeps {4, 0} (0.88 ≥ 0.85).
    const p = count({ topP: 0.85 });
    expect(p[1] + p[2] + p[3]).to.equal(0);
    const full = count({});
    const z = logits.reduce((s, l) => s + Math.exp(l), 0);
    expectClose(full, logits.map((l) => Math.exp(l) / z), 0.03, 0, 'sample frequencies');
    expect(argmax([1, 3, 3, 2])).to.equal(1);
    // Partial selection agrees with a full stable sort, ties included.
    const r2 = new SeededRandom(3);
    for (let t = 0; t < 50; t++) {
      const a = Array.from({ length: 40 }, () => Math.floor(r2.next() * 10));
      const k = 1 + r2.int(40);
      const want = a.map((_, i) => i).sort((x, y) => a[y] - a[x] || x - y).slice(0, k);
      expect(topKIndices(a, k)).to.deep.equal(want);
    }
  });

  it('DocT5QueryGenerator returns n decoded, seeded samples (QueryGenerator shape)', async () => {
    const gen: QueryGenerator = new DocT5QueryGenerator(model, tok, { maxNewTokens: 8, seed: 3, unique: false });
    const passage = 'The Manhattan Project was a research and development undertaking during World War II that produced the first nuclear weapons.';
    const qs = await expectNoLeak(() => gen.generate(passage, 3), 'docT5query');
    expect(qs).to.have.length(3);
    for (const q of qs) expect(q).to.be.a('string').and.not.include('</s>');
    // The same seed from a fresh generator reproduces the samples; the next call gives new ones.
    const again = new DocT5QueryGenerator(model, tok, { maxNewTokens: 8, seed: 3, unique: false });
    expect(await again.generate(passage, 3)).to.deep.equal(qs);
    expect(await again.generate(passage, 3)).to.not.deep.equal(qs);
    expect(await gen.generate(passage, 0)).to.deep.equal([]);
  });

  it('plugs into augmentQueries as a QueryGenerator: up to n distinct queries per passage', async () => {
    const gen = new DocT5QueryGenerator(model, tok, { maxNewTokens: 6, seed: 1 });
    const recs = await augmentQueries([{ docid: 'd1', text: 'Mary Shelley wrote Frankenstein in 1818.' }], gen, { perPassage: 3 });
    expect(recs.length).to.be.within(1, 3);
    expect(new Set(recs.map((r) => r.query)).size).to.equal(recs.length);
    expect(recs[0]).to.include({ sourceDocid: 'd1', generator: 'doct5query' });
    expect(recs[0].qid).to.equal('doct5query-d1-0');
  });
});

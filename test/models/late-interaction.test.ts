// LateInteractionRanker: cosine of pooled vectors + MaxSim over token states, a linear head that
// starts as the bi-encoder; frozen-encoder feature cache; save/load; training of the head (and encoder).
import { expect } from 'chai';
import fs from 'node:fs';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { BiEncoder } from '../../src/models/bi-encoder/model.js';
import { LateInteractionRanker, LATE_INTERACTION_FILE, maxSim } from '../../src/models/late-interaction.js';
import { batchToTensors, TextTokenizer } from '../../src/tokenization/tokenizer.js';
import { Trainer } from '../../src/training/trainer.js';
import { SeededRandom } from '../../src/utils/random.js';
import { InputError } from '../../src/utils/errors.js';
import { dataPath, expectClose, expectNoLeak, tmpDir } from '../helpers.js';
import { MINILM, pretrainedDir } from '../pretrained.js';

const PAIRS: Array<[string, string]> = [
  ['what is the boiling point of water', 'Water boils at 100 °C at sea level, and at lower temperatures at altitude.'],
  ['what is the boiling point of water', 'The Eiffel Tower is in Paris.'],
  ['who wrote hamlet', 'Hamlet is a tragedy written by William Shakespeare sometime between 1599 and 1601.'],
  ['who wrote hamlet', ''],
];

function small(seed = 5): BiEncoder {
  const tok = TextTokenizer.fromDir(dataPath('ms-marco-TinyBERT-L-2-v2-tokenizer-config'));
  return new BiEncoder({ hidden_size: 32, num_hidden_layers: 2, num_attention_heads: 2, intermediate_size: 64, max_position_embeddings: 128, hidden_dropout_prob: 0.1 }, { tokenizer: tok, seed });
}

/** The features by hand: token states of each text alone, JS loops. */
async function handFeatures(enc: BiEncoder, pair: [string, string], layer: number): Promise<{ cos: number; maxsim: number }> {
  const states = async (text: string) => {
    const e = await enc.tokenize([text]);
    const t = batchToTensors(e);
    const o = enc.bert.forward(t, { outputHiddenStates: true });
    const h = (o.hiddenStates![layer].arraySync() as number[][][])[0].slice(0, e.lengths[0]);
    tf.dispose([t.inputIds, t.tokenTypeIds, t.attentionMask, o.lastHiddenState, o.pooledOutput, ...o.hiddenStates!]);
    return h;
  };
  const q = await states(pair[0]);
  const d = await states(pair[1]);
  const mean = (rows: number[][]) => rows[0].map((_, k) => rows.reduce((s, r) => s + r[k], 0) / rows.length);
  const cosine = (a: number[], b: number[]) => a.reduce((s, x, i) => s + x * b[i], 0) / Math.sqrt(a.reduce((s, x) => s + x * x, 0) * b.reduce((s, x) => s + x * x, 0));
  const qc = q.slice(1, -1);
  const dc = d.slice(1, -1);
  const maxsim = dc.length === 0 ? 0 : qc.reduce((s, qt) => s + Math.max(...dc.map((dt) => cosine(qt, dt))), 0) / Math.max(1, qc.length);
  return { cos: cosine(mean(q), mean(d)), maxsim };
}

describe('LateInteractionRanker', function () {
  this.timeout(300000);

  it('maxSim on hand-made vectors: best cosine per query token, masked tokens never win, empty sides give 0', () => {
    const got = tf.tidy(() => {
      // Query tokens (1,0), (0,1) and a masked (1,1); document tokens (1,0), (0.6,0.8) and a masked (0,1).
      const q = tf.tensor3d([[[1, 0], [0, 1], [1, 1]], [[2, 0], [0, 0], [0, 0]]]);
      const d = tf.tensor3d([[[1, 0], [0.6, 0.8], [0, 1]], [[1, 1], [0, 0], [0, 0]]]);
      const qm = tf.tensor2d([[1, 1, 0], [1, 0, 0]]);
      const dm = tf.tensor2d([[1, 1, 0], [0, 0, 0]]);
      return Array.from(maxSim(q, qm, d, dm).dataSync());
    });
    // Row 1: token (1,0) best 1; token (0,1) best 0.8 (the masked (0,1) would give 1) → 0.9. Row 2: no document token → 0.
    expectClose(got, [0.9, 0], 1e-6, 0, 'maxSim');
  });

  it('features equal a by-hand computation on each text alone (cosine of mean pools, MaxSim without [CLS]/[SEP]/padding, any layer)', async () => {
    const li = new LateInteractionRanker(small(), { features: ['cosine', 'maxsim', 'maxsim@0', 'cosine@1'] });
    const got = await li.featuresOf(PAIRS, { batchSize: 3 });
    for (let i = 0; i < PAIRS.length; i++) {
      const last = await handFeatures(li.encoder, PAIRS[i], 2);
      const l0 = await handFeatures(li.encoder, PAIRS[i], 0);
      const l1 = await handFeatures(li.encoder, PAIRS[i], 1);
      expectClose(got[i], [last.cos, last.maxsim, l0.maxsim, l1.cos], 2e-5, 1e-5, `features of pair ${i}`);
    }
    expect(li.featureNames).to.deep.equal(['cosine', 'maxsim', 'maxsim@0', 'cosine@1']);
    li.dispose();
  });

  it('starts as the checkpoint: on all-MiniLM-L6-v2 its scores equal BiEncoder.score (scale × cosine)', async () => {
    const dir = await pretrainedDir(MINILM);
    const li = await LateInteractionRanker.fromPretrained(dir);
    const be = await BiEncoder.fromPretrained(dir);
    expect(li.weights).to.deep.equal([20, 0]);
    expectClose(await li.score(PAIRS), await be.score(PAIRS), 1e-4, 1e-5, 'untrained late-interaction vs bi-encoder');
    // And the training path (forward on a batch) gives the same scores as score().
    const batch = await li.encodeForTraining(PAIRS);
    const fwd = tf.tidy(() => Array.from(li.forward(batch, false).dataSync()));
    li.disposeBatch(batch);
    expectClose(fwd, await li.score(PAIRS), 1e-4, 1e-5, 'forward vs score');
    const ranked = await li.rank('what is the boiling point of water', ['The Eiffel Tower is in Paris.', 'Water boils at 100 °C at sea level.']);
    expect(ranked[0].index).to.equal(1);
    be.dispose();
    li.dispose();
  });

  it('frozen encoder: the Trainer moves only the head, from cached features (each pair encoded once); no leaks', async () => {
    const li = new LateInteractionRanker(small(), { weights: [1, 0] });
    const encoderBefore = [...li.encoder.trainableVariables()].map(([n, v]) => [n, (v.dataSync() as Float32Array).slice()] as const);
    let tokenized = 0;
    const tokenize = li.encoder.tokenize.bind(li.encoder);
    li.encoder.tokenize = (texts) => {
      tokenized += texts.length;
      return tokenize(texts);
    };
    const lists = [
      { qid: 'a', query: PAIRS[0][0], docs: [PAIRS[0][1], PAIRS[1][1], PAIRS[2][1]], labels: [1, 0.5, 0] },
      { qid: 'b', query: PAIRS[2][0], docs: [PAIRS[2][1], PAIRS[0][1], PAIRS[1][1]], labels: [1, 0.5, 0] },
    ];
    expect([...li.trainableVariables().keys()]).to.deep.equal(['late_interaction.weights']);
    const trainer = new Trainer(li, { loss: 'softmax_cross_entropy', listSize: 3, listsPerBatch: 2, epochs: 3, lr: 0.1, weightDecay: 0, progress: false });
    await trainer.train(lists);
    // 6 pairs: 6 documents + the queries of each batch, once; later epochs read the cache.
    expect(tokenized).to.equal(6 + 2);
    await expectNoLeak(async () => {
      const r = await trainer.accumulate([lists], new SeededRandom(3));
      for (const g of r.grads!.values()) g.dispose();
    }, 'a head-only step');
    trainer.dispose();
    expect(li.weights).not.to.deep.equal([1, 0]);
    for (const [n, before] of encoderBefore) expect(Array.from(li.encoder.trainableVariables().get(n)!.dataSync())).to.deep.equal(Array.from(before), n);
    li.dispose();
  });

  it('trainEncoder: gradients reach the encoder and the head (head gradient = Σ upstream · features); no leaks', async () => {
    const li = new LateInteractionRanker(small(), { trainEncoder: true, weights: [3, 2] });
    const batch = await li.encodeForTraining(PAIRS.slice(0, 3));
    const vars = li.trainableVariables();
    expect(vars.size).to.be.greaterThan(1);
    await expectNoLeak(() => {
      const { grads, value } = tf.variableGrads(() => tf.sum(li.forward(batch, false)) as tf.Scalar, [...vars.values()]);
      const byName = new Map([...vars].map(([n, v]) => [v.name, n]));
      const named = new Map(Object.entries(grads).map(([k, g]) => [byName.get(k)!, g]));
      const f = li.featureTensor(batch.queries!, batch.docs!, batch.queryIndex!, false);
      // d Σ (F w) / d w = column sums of F.
      expectClose(Array.from(named.get('late_interaction.weights')!.dataSync()), tf.tidy(() => Array.from(tf.sum(f, 0).dataSync())), 1e-5, 1e-5, 'head gradient');
      expect(tf.tidy(() => tf.max(tf.abs(named.get('bert.encoder.layer.1.attention.self.query.weight')!)).dataSync()[0])).to.be.greaterThan(0);
      tf.dispose([value, f, ...Object.values(grads)]);
    }, 'a full gradient');
    li.disposeBatch(batch);
    li.dispose();
  });

  it('saves as a sentence-transformers folder + late_interaction.json, and reloads with the same scores', async () => {
    const li = new LateInteractionRanker(small(), { features: ['cosine', 'maxsim', 'maxsim@0'], weights: [2.5, 5.5, -0.5] });
    const dir = path.join(tmpDir(), 'li');
    await li.save(dir);
    const head = JSON.parse(fs.readFileSync(path.join(dir, LATE_INTERACTION_FILE), 'utf8')) as { features: string[]; weights: number[] };
    expect(head.features).to.deep.equal(['cosine', 'maxsim', 'maxsim@0']);
    expect(head.weights).to.deep.equal([2.5, 5.5, -0.5]);
    // The model card states the head and warns that sentence-transformers sees only the bi-encoder.
    const card = fs.readFileSync(path.join(dir, 'README.md'), 'utf8');
    expect(card).to.contain('2.5·cosine + 5.5·maxsim + -0.5·maxsim@0');
    expect(card).to.contain('sentence-transformers loads this folder as the bi-encoder it contains');
    const back = await LateInteractionRanker.fromPretrained(dir);
    expect(back.weights).to.deep.equal([2.5, 5.5, -0.5]);
    expectClose(await back.score(PAIRS), await li.score(PAIRS), 1e-6, 1e-6, 'reloaded scores');
    // The folder is still a plain bi-encoder.
    const plain = await BiEncoder.fromPretrained(dir);
    expectClose(await plain.score(PAIRS.slice(0, 2)), (await back.featuresOf(PAIRS.slice(0, 2))).map((f) => 20 * f[0]), 1e-4, 1e-5, 'as a plain bi-encoder');
    plain.dispose();
    back.dispose();
    li.dispose();
  });

  it('feature cache file: read back by the same encoder and features, ignored by another encoder', async () => {
    const li = new LateInteractionRanker(small(5));
    const want = await li.featuresOf(PAIRS);
    const file = path.join(tmpDir(), 'features.jsonl');
    expect(li.saveFeatureCache(file)).to.equal(PAIRS.length);
    const same = new LateInteractionRanker(small(5));
    expect(same.loadFeatureCache(file)).to.equal(PAIRS.length);
    let tokenized = 0;
    const tokenize = same.encoder.tokenize.bind(same.encoder);
    same.encoder.tokenize = (t) => {
      tokenized += t.length;
      return tokenize(t);
    };
    expect(await same.featuresOf(PAIRS)).to.deep.equal(want);
    expect(tokenized).to.equal(0);
    const other = new LateInteractionRanker(small(6));
    expect(other.loadFeatureCache(file)).to.equal(0);
    const fewer = new LateInteractionRanker(small(5), { features: ['cosine'] });
    expect(fewer.loadFeatureCache(file)).to.equal(0);
    for (const m of [li, same, other, fewer]) m.dispose();
  });

  it('wmaxsim: v = 0 is MaxSim; otherwise softmax(v·q̂_i/100)-weighted best cosines, equal by hand, from the cache and in the graph; v trains', async () => {
    const li = new LateInteractionRanker(small(), { features: ['cosine', 'maxsim', 'wmaxsim'] });
    const f0 = await li.featuresOf(PAIRS);
    for (const f of f0) expect(f[2]).to.be.closeTo(f[1], 1e-6);
    // A random term vector: by hand from each text's token states.
    const rng = new SeededRandom(11);
    const v = Array.from({ length: 32 }, () => rng.next() * 40 - 20);
    const lv = new LateInteractionRanker(small(), { features: ['cosine', 'maxsim', 'wmaxsim'], termVector: v });
    const cached = await lv.featuresOf(PAIRS);
    const graph = new LateInteractionRanker(small(), { features: ['cosine', 'maxsim', 'wmaxsim'], termVector: v, trainEncoder: true });
    const inGraph = await graph.featuresOf(PAIRS);
    for (let i = 0; i < PAIRS.length; i++) {
      const st = async (text: string) => {
        const e = await lv.encoder.tokenize([text]);
        const t = batchToTensors(e);
        const o = lv.encoder.bert.forward(t);
        const h = (o.lastHiddenState.arraySync() as number[][][])[0].slice(1, e.lengths[0] - 1);
        tf.dispose([t.inputIds, t.tokenTypeIds, t.attentionMask, o.lastHiddenState, o.pooledOutput]);
        return h.map((r) => r.map((x) => x / Math.hypot(...r)));
      };
      const q = await st(PAIRS[i][0]);
      const d = await st(PAIRS[i][1]);
      const best = q.map((qt) => (d.length ? Math.max(...d.map((dt) => qt.reduce((a, x, k) => a + x * dt[k], 0))) : 0));
      const z = q.map((qt) => qt.reduce((a, x, k) => a + x * v[k], 0) / 100);
      const e = z.map((x) => Math.exp(x - Math.max(...z)));
      const want = e.reduce((a, x, k) => a + (x / e.reduce((p, y) => p + y, 0)) * best[k], 0);
      expect(cached[i][2]).to.be.closeTo(want, 2e-5);
      expect(inGraph[i][2]).to.be.closeTo(want, 2e-5);
    }
    // Head-only training from the cache moves v (its gradient flows through the cached per-token values).
    const lists = [{ qid: 'a', query: PAIRS[0][0], docs: [PAIRS[0][1], PAIRS[1][1], PAIRS[2][1]], labels: [1, 0.5, 0] }];
    const trainer = new Trainer(li, { loss: 'softmax_cross_entropy', listSize: 3, listsPerBatch: 1, epochs: 2, lr: 0.5, weightDecay: 0, progress: false });
    expect([...li.trainableVariables().keys()]).to.deep.equal(['late_interaction.weights', 'late_interaction.term_vector']);
    await trainer.train(lists);
    await expectNoLeak(async () => {
      const r = await trainer.accumulate([lists], new SeededRandom(3));
      expect(tf.tidy(() => tf.max(tf.abs(r.grads!.get('late_interaction.term_vector')!)).dataSync()[0])).to.be.greaterThan(0);
      for (const g of r.grads!.values()) g.dispose();
    }, 'a wmaxsim head step');
    trainer.dispose();
    const moved = Array.from(li.termVector!.dataSync());
    expect(moved.some((x) => x !== 0)).to.equal(true);
    // Saved and reloaded with its term vector; the cache file keeps the query states.
    const dir = path.join(tmpDir(), 'wli');
    await li.save(dir);
    const back = await LateInteractionRanker.fromPretrained(dir);
    expectClose(Array.from(back.termVector!.dataSync()), moved, 0, 0, 'term vector');
    expectClose(await back.score(PAIRS), await li.score(PAIRS), 1e-5, 1e-5, 'reloaded wmaxsim scores');
    const file = path.join(tmpDir(), 'wcache.jsonl');
    li.saveFeatureCache(file);
    const again = new LateInteractionRanker(small(), { features: ['cosine', 'maxsim', 'wmaxsim'], termVector: moved });
    expect(again.loadFeatureCache(file)).to.equal(PAIRS.length + 1); // + the training-only pair (query 0, passage 2)
    expectClose((await again.featuresOf(PAIRS)).flatMap((r) => Array.from(r)), (await li.featuresOf(PAIRS)).flatMap((r) => Array.from(r)), 1e-6, 0, 'features from the cache file');
    for (const m of [li, lv, graph, back, again]) m.dispose();
  });

  it('rejects unknown features, layers out of range and weights of the wrong length (InputError naming the field)', () => {
    const enc = small();
    for (const [opts, re] of [
      [{ features: ['dot'] }, /unknown feature/],
      [{ features: ['maxsim@3'] }, /hidden states 0 … 2/],
      [{ features: ['cosine', 'maxsim'], weights: [1] }, /2 finite weights/],
      [{ features: [] }, /at least one feature/],
      [{ features: ['wmaxsim', 'wmaxsim@1'] }, /at most one wmaxsim/],
      [{ features: ['wmaxsim'], termVector: [1, 2] }, /32 finite numbers/],
    ] as const) {
      expect(() => new LateInteractionRanker(enc, opts as never)).to.throw(InputError, re);
    }
    enc.dispose();
  });
});

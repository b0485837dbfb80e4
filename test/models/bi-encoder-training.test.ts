// BiEncoder as a trainable student: gradients against central finite differences on a tiny random
// BERT, the Trainer's steps leave no tensors behind, queries are encoded once per batch, dropout is
// replayable; and the folder reader's errors name the file and field.
import { expect } from 'chai';
import fs from 'node:fs';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { BiEncoder, type BiEncoderOptions } from '../../src/models/bi-encoder/index.js';
import { TextTokenizer } from '../../src/tokenization/tokenizer.js';
import { Trainer } from '../../src/training/trainer.js';
import type { TrainingList } from '../../src/training/lists.js';
import { SeededRandom } from '../../src/training/random.js';
import { InputError } from '../../src/utils/errors.js';
import { dataPath, expectClose, expectNoLeak, tmpDir } from '../helpers.js';

const tokenizer = TextTokenizer.fromDir(dataPath('ms-marco-TinyBERT-L-2-v2-tokenizer-config'));

function tiny(opts: BiEncoderOptions = {}, dropout = 0, seed = 3): BiEncoder {
  const m = new BiEncoder(
    { hidden_size: 16, num_hidden_layers: 2, num_attention_heads: 2, intermediate_size: 32, max_position_embeddings: 48, hidden_dropout_prob: dropout, attention_probs_dropout_prob: dropout },
    { tokenizer, seed, ...opts },
  );
  // Off HF's initial values (unit LayerNorm, zero biases), so every parameter shapes the output.
  tf.tidy(() => {
    for (const [, v] of m.trainableVariables()) v.assign(tf.add(v, tf.randomNormal(v.shape, 0, 0.1, 'float32', seed + 1)));
  });
  return m;
}

const PAIRS: Array<[string, string]> = [
  ['boiling point of water', 'water boils at one hundred degrees'],
  ['boiling point of water', 'the eiffel tower is in paris'],
  ['who wrote hamlet', 'hamlet was written by shakespeare'],
  ['boiling point of water', 'at altitude water boils at lower temperatures because air pressure is lower'],
  ['who wrote hamlet', 'a tragedy'],
  ['who wrote hamlet', 'water boils at one hundred degrees'],
];

function toyLists(n: number, size: number, seed: number): TrainingList[] {
  const words = ['river', 'castle', 'engine', 'violin', 'forest', 'planet', 'harbor', 'garden'];
  const rng = new SeededRandom(seed);
  return Array.from({ length: n }, (_, i) => {
    const q = words[rng.int(words.length)];
    const docs = Array.from({ length: size }, (_, j) => (j < 2 ? `the ${q} is near` : `the ${words[rng.int(words.length)]} and the ${words[rng.int(words.length)]}`));
    return { qid: `q${i}`, query: `where is the ${q}`, docs, labels: docs.map((_, j) => 1 / (j + 1)) };
  });
}

describe('BiEncoder as a trainable student', function () {
  this.timeout(300000);

  const CONFIGS: Array<[string, BiEncoderOptions]> = [
    ['mean pooling, normalised, cosine', { pooling: 'mean', similarity: 'cosine', scale: 1 }],
    ['max+cls pooling, unnormalised, dot', { pooling: ['max', 'cls'], normalize: false, similarity: 'dot', scale: 0.02 }],
    ['last-token pooling, cosine × 20', { pooling: 'lasttoken', normalize: false, similarity: 'cosine', scale: 20 }],
  ];
  for (const [title, opts] of CONFIGS) {
    it(`gradients match central finite differences (${title})`, async () => {
      const model = tiny(opts);
      const batch = await model.encodeForTraining(PAIRS);
      const w = tf.tensor1d([0.7, -1.3, 0.4, 1.1, -0.6, 0.9]);
      const loss = () => tf.tidy(() => tf.sum(tf.mul(model.forward(batch, true), w)) as tf.Scalar);
      const vars = model.trainableVariables();
      const byTf = new Map([...vars].map(([n, v]) => [v.name, n]));
      const { value, grads } = tf.variableGrads(loss, [...vars.values()]);
      value.dispose();
      const g = new Map(Object.entries(grads).map(([k, t]) => [byTf.get(k)!, t.dataSync() as Float32Array]));
      tf.dispose(Object.values(grads));
      // Every parameter of the encoder gets a gradient; the unused pooler and classifier are not trained.
      expect([...g.keys()].sort()).to.deep.equal([...vars.keys()].sort());
      expect([...vars.keys()].some((n) => n.includes('pooler') || n.includes('classifier'))).to.equal(false);
      // float32 central differences: step 4e-3, tolerance 2e-4 (× scale) + 2e-3·|gradient| (observed errors ≤ half of it).
      // (key biases get ~0: softmax ignores a per-query constant — the finite difference must agree.)
      const h = 4e-3;
      let checked = 0;
      for (const name of ['bert.embeddings.word_embeddings.weight', 'bert.embeddings.LayerNorm.bias', 'bert.encoder.layer.0.attention.self.query.weight', 'bert.encoder.layer.0.attention.self.key.bias', 'bert.encoder.layer.1.intermediate.dense.weight', 'bert.encoder.layer.1.output.LayerNorm.weight']) {
        const v = vars.get(name)!;
        const grad = g.get(name)!;
        // The largest-gradient element and one with a tenth of it (well above float32 noise).
        let top = 0;
        for (let i = 1; i < grad.length; i++) if (Math.abs(grad[i]) > Math.abs(grad[top])) top = i;
        let mid = top;
        for (let i = 0; i < grad.length; i++) if (Math.abs(grad[i]) > 0.1 * Math.abs(grad[top]) && Math.abs(grad[i]) < Math.abs(grad[mid])) mid = i;
        for (const idx of new Set([top, mid])) {
          const base = v.dataSync().slice() as Float32Array;
          const at = (delta: number) => {
            const p = base.slice();
            p[idx] += delta;
            tf.tidy(() => v.assign(tf.tensor(p, v.shape)));
            const l = loss();
            const x = l.dataSync()[0];
            l.dispose();
            return x;
          };
          const fd = (at(h) - at(-h)) / (2 * h);
          tf.tidy(() => v.assign(tf.tensor(base, v.shape)));
          expect(Math.abs(fd - grad[idx]), `${name}[${idx}]: finite difference ${fd}, gradient ${grad[idx]}`).to.be.lessThan(2e-4 * Math.max(1, opts.scale ?? 1) + 2e-3 * Math.abs(grad[idx]));
          checked++;
        }
      }
      expect(checked).to.be.greaterThanOrEqual(6);
      w.dispose();
      model.disposeBatch(batch);
      model.dispose();
    });
  }

  it('encodes each distinct query once per batch; forward (eval) equals score() and scale · cos of encode()', async () => {
    const model = tiny({ scale: 20 });
    const batch = await model.encodeForTraining(PAIRS);
    expect(batch.queries.inputIds.shape[0]).to.equal(2);
    expect(batch.docs.inputIds.shape[0]).to.equal(PAIRS.length);
    expect(Array.from(batch.queryIndex.dataSync())).to.deep.equal([0, 0, 1, 0, 1, 1]);
    const fwd = await expectNoLeak(() => tf.tidy(() => Array.from(model.forward(batch, false).dataSync())), 'forward');
    const scores = await expectNoLeak(() => model.score(PAIRS, { batchSize: 2 }), 'score');
    expectClose(scores, fwd, 1e-5, 1e-5, 'score vs forward');
    const [q] = await model.encode([PAIRS[0][0]]);
    const [d] = await model.encode([PAIRS[0][1]]);
    let dot = 0;
    for (let k = 0; k < q.length; k++) dot += q[k] * d[k];
    // Normalised vectors: the cosine is the dot product.
    expect(scores[0]).to.be.closeTo(20 * dot, 1e-5);
    const ranked = await model.rank('boiling point of water', PAIRS.map((p) => p[1]));
    expect(ranked.map((r) => r.score)).to.deep.equal([...scores.map((_, i) => ranked[i].score)].sort((a, b) => b - a));
    model.disposeBatch(batch);
    model.dispose();
  });

  it('dropout in training only, replayed exactly from the saved random state', async () => {
    const model = tiny({}, 0.2);
    const batch = await model.encodeForTraining(PAIRS);
    const run = (training: boolean) => tf.tidy(() => Array.from(model.forward(batch, training).dataSync()));
    const state = model.rngState();
    const a = run(true);
    const b = run(true);
    expect(a).to.not.deep.equal(b);
    model.setRngState(state);
    expect(run(true)).to.deep.equal(a);
    expect(run(false)).to.deep.equal(run(false));
    model.disposeBatch(batch);
    model.dispose();
  });

  it('trains under the Trainer with the number of live tensors unchanged (one pass and GradCache chunks), and saves', async () => {
    const model = tiny({}, 0.1);
    const lists = toyLists(4, 5, 1);
    for (const cfg of [{ loss: 'ranknet' }, { loss: 'softmax_cross_entropy', maxPairsPerForward: 4 }]) {
      const trainer = new Trainer(model, { progress: false, listSize: 5, maxSteps: 2, listsPerBatch: 2, lr: 1e-3, ...cfg });
      await trainer.train(lists); // the first steps create the optimiser moments
      const before = tf.memory().numTensors;
      const r = await trainer.train(lists);
      expect(tf.memory().numTensors, JSON.stringify(cfg)).to.equal(before);
      expect(r.losses.every(Number.isFinite)).to.equal(true);
      trainer.dispose();
    }
    const dir = path.join(tmpDir(), 'student');
    await model.save(dir);
    const back = await BiEncoder.fromPretrained(dir);
    expect(Array.from(await back.embed(['where is the river']))).to.deep.equal(Array.from(await model.embed(['where is the river'])));
    expect(back.scale).to.equal(20);
    back.dispose();
    model.dispose();
  });

  it('chunked scoring (GradCache) gives the gradients of one forward pass', async () => {
    const lists = toyLists(2, 5, 2);
    const grads = async (maxPairsPerForward?: number) => {
      const model = tiny({}, 0, 9);
      const t = new Trainer(model, { progress: false, listSize: 5, loss: 'ranknet', maxPairsPerForward });
      const r = await t.accumulate([lists], new SeededRandom(5));
      const out = new Map([...r.grads!].map(([k, v]) => [k, v.dataSync() as Float32Array]));
      for (const v of r.grads!.values()) v.dispose();
      t.dispose();
      model.dispose();
      return out;
    };
    const direct = await grads();
    const chunked = await grads(3);
    for (const [k, v] of direct) expectClose(chunked.get(k)!, v, 1e-5, 1e-4, `grad ${k}`);
  });
});

describe('BiEncoder folder errors name the file and field', () => {
  let good: string;
  before(async () => {
    good = path.join(tmpDir(), 'good');
    const m = tiny();
    await m.save(good);
    m.dispose();
  });

  function variant(edit: (dir: string) => void): string {
    const dir = path.join(tmpDir(), 'bad');
    fs.cpSync(good, dir, { recursive: true });
    edit(dir);
    return dir;
  }

  const editJson = (file: string, f: (o: any) => unknown) => fs.writeFileSync(file, JSON.stringify(f(JSON.parse(fs.readFileSync(file, 'utf8')))));

  const CASES: Array<[string, (dir: string) => void, string, string | undefined, RegExp]> = [
    ['an unsupported module', (d) => editJson(path.join(d, 'modules.json'), (m) => [...m, { idx: 3, name: '3', path: '3_Dense', type: 'sentence_transformers.models.Dense' }]), 'modules.json', '[3].type', /Dense.*not supported/],
    ['modules out of order', (d) => editJson(path.join(d, 'modules.json'), (m) => [m[0], { ...m[1], idx: 2 }, { ...m[2], idx: 1 }]), 'modules.json', '[1].type', /Pooling out of order/],
    ['no Pooling module', (d) => editJson(path.join(d, 'modules.json'), (m) => [m[0]]), 'modules.json', undefined, /no Pooling module/],
    ['a bad modules.json', (d) => fs.writeFileSync(path.join(d, 'modules.json'), '[{"idx": 0,'), 'modules.json', undefined, /cannot read modules/],
    ['an unknown pooling mode', (d) => editJson(path.join(d, '1_Pooling', 'config.json'), () => ({ embedding_dimension: 16, pooling_mode: 'median' })), path.join('1_Pooling', 'config.json'), 'pooling_mode', /unknown pooling mode "median"/],
    ['a non-boolean legacy pooling key', (d) => editJson(path.join(d, '1_Pooling', 'config.json'), (o) => ({ ...o, pooling_mode_cls_token: 'yes' })), path.join('1_Pooling', 'config.json'), 'pooling_mode_cls_token', /true or false/],
    ['a pooling dimension unlike the hidden size', (d) => editJson(path.join(d, '1_Pooling', 'config.json'), (o) => ({ ...o, word_embedding_dimension: 384 })), path.join('1_Pooling', 'config.json'), 'word_embedding_dimension', /384 differs from the transformer's hidden_size 16/],
    ['a bad max_seq_length', (d) => editJson(path.join(d, 'sentence_bert_config.json'), () => ({ max_seq_length: 'long' })), 'sentence_bert_config.json', 'max_seq_length', /positive integer/],
    ['an unsupported similarity', (d) => editJson(path.join(d, 'config_sentence_transformers.json'), (o) => ({ ...o, similarity_fn_name: 'euclidean' })), 'config_sentence_transformers.json', 'similarity_fn_name', /euclidean/],
    ['a missing Pooling config', (d) => fs.rmSync(path.join(d, '1_Pooling', 'config.json')), path.join('1_Pooling', 'config.json'), undefined, /not found/],
    ['missing weights', (d) => fs.rmSync(path.join(d, 'model.safetensors')), '', undefined, /model.safetensors not found/],
  ];
  for (const [title, edit, file, field, re] of CASES) {
    it(title, async () => {
      const dir = variant(edit);
      const err = await BiEncoder.fromPretrained(dir).then(
        () => null,
        (e: unknown) => e,
      );
      expect(err).to.be.instanceOf(InputError);
      const e = err as InputError;
      expect(e.location.file).to.equal(file ? path.join(dir, file) : dir);
      expect(e.location.field).to.equal(field);
      expect(e.message).to.match(re);
    });
  }

  it('a missing folder', async () => {
    const err = await BiEncoder.fromPretrained('/nonexistent/model').catch((e: unknown) => e);
    expect((err as Error).message).to.match(/\/nonexistent\/model: model folder not found/);
  });
});

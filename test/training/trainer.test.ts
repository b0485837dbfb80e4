// The trainer on a tiny real BERT cross-encoder: memory, accumulation, chunking, reproducibility,
// resumption, best-model selection, non-finite losses, and that a toy task is learnt.
import { expect } from 'chai';
import * as tf from '@tensorflow/tfjs-core';
import { CrossEncoder, type PairBatch } from '../../src/models/cross-encoder.js';
import { TextTokenizer } from '../../src/tokenization/tokenizer.js';
import { NonFiniteLossError, Trainer, type TrainerConfig } from '../../src/training/trainer.js';
import type { TrainingList } from '../../src/data/lists.js';
import { SeededRandom } from '../../src/utils/random.js';
import { prepareList } from '../../src/training/list-sampling.js';
import { getLoss } from '../../src/losses/registry.js';
import { dataPath, expectClose, tmpDir } from '../helpers.js';

const tokenizer = TextTokenizer.fromDir(dataPath('ms-marco-TinyBERT-L-2-v2-tokenizer-config'), { maxLength: 64 });
const WORDS = ['river', 'castle', 'engine', 'violin', 'forest', 'planet', 'harbor', 'garden', 'bridge', 'desert', 'coffee', 'winter'];

/**
 * Lists where the relevant documents contain a marker word. (Exact query-term matching is learnt by a
 * from-scratch 1-layer BERT only after hundreds of steps; the marker keeps this test short.)
 */
function toyLists(n: number, size: number, seed: number): TrainingList[] {
  const rng = new SeededRandom(seed);
  return Array.from({ length: n }, (_, i) => {
    const q = WORDS[rng.int(WORDS.length)];
    const docs: string[] = [];
    const labels: number[] = [];
    for (let j = 0; j < size; j++) {
      const others = WORDS.filter((w) => w !== q);
      const rel = j < 2;
      const words = [others[rng.int(others.length)], others[rng.int(others.length)], rel ? 'answer' : others[rng.int(others.length)]];
      docs.push(`the ${rng.shuffle(words).join(' and the ')}`);
      labels.push(rel ? 1 / (j + 1) : 0);
    }
    return { qid: `q${i}`, query: `where is the ${q}`, docs, labels };
  });
}

function tinyModel(dropout = 0.1, seed = 1): CrossEncoder {
  return new CrossEncoder(
    { vocab_size: 30522, hidden_size: 32, num_hidden_layers: 1, num_attention_heads: 2, intermediate_size: 64, max_position_embeddings: 64, hidden_dropout_prob: dropout, attention_probs_dropout_prob: dropout },
    { tokenizer, seed, maxLength: 64 },
  );
}

const quiet: TrainerConfig = { progress: false, listSize: 6 };

async function gradsOf(t: Trainer, group: TrainingList[][]): Promise<Map<string, Float32Array>> {
  const r = await t.accumulate(group, new SeededRandom(5));
  const out = new Map([...r.grads!].map(([k, g]) => [k, g.dataSync() as Float32Array]));
  for (const g of r.grads!.values()) g.dispose();
  return out;
}

describe('Trainer', function () {
  this.timeout(300000);

  it('leaves the number of live tensors unchanged across training steps', async () => {
    const model = tinyModel();
    const lists = toyLists(4, 6, 1);
    for (const cfg of [{ loss: 'ranknet' }, { loss: 'softmax_cross_entropy', accumulationSteps: 2 }, { loss: 'ranknet', maxPairsPerForward: 5 }]) {
      const trainer = new Trainer(model, { ...quiet, maxSteps: 1, listsPerBatch: 2, ...cfg });
      await trainer.train(lists); // the first step creates the optimiser moments
      const before = tf.memory().numTensors;
      await trainer.train(lists);
      expect(tf.memory().numTensors, JSON.stringify(cfg)).to.equal(before);
      trainer.dispose();
    }
    model.dispose();
  });

  it('accumulating k micro-batches gives the gradient of one batch of k× size (within 1e-5)', async () => {
    const model = tinyModel(0);
    const lists = toyLists(6, 6, 2);
    const t = new Trainer(model, { ...quiet, loss: 'softmax_cross_entropy' });
    const whole = await gradsOf(t, [lists]);
    const parts = await gradsOf(t, [lists.slice(0, 2), lists.slice(2, 4), lists.slice(4)]);
    const uneven = await gradsOf(t, [lists.slice(0, 1), lists.slice(1)]);
    for (const [k, g] of whole) {
      expectClose(parts.get(k)!, g, 1e-5, 1e-4, `grad ${k} (3×2 lists)`);
      expectClose(uneven.get(k)!, g, 1e-5, 1e-4, `grad ${k} (1+5 lists)`);
    }
    model.dispose();
  });

  it('chunked scoring (GradCache) gives the same gradients as one forward pass without dropout', async () => {
    const lists = toyLists(3, 6, 3);
    const a = tinyModel(0, 9);
    const b = tinyModel(0, 9);
    const direct = await gradsOf(new Trainer(a, { ...quiet, loss: 'ranknet' }), [lists]);
    const chunked = await gradsOf(new Trainer(b, { ...quiet, loss: 'ranknet', maxPairsPerForward: 5 }), [lists]);
    for (const [k, g] of direct) expectClose(chunked.get(k)!, g, 1e-5, 1e-4, `grad ${k}`);
    a.dispose();
    b.dispose();
  });

  it('chunked scoring replays the dropout masks: gradients equal one tape over the same chunks', async () => {
    // With dropout, GradCache's gradient is that of the loss under the masks of its first pass;
    // the reference scores the same chunks, in order, inside a single gradient tape.
    const lists = toyLists(3, 6, 3);
    const a = tinyModel(0.1, 9);
    const b = tinyModel(0.1, 9);
    const chunked = await gradsOf(new Trainer(a, { ...quiet, loss: 'ranknet', maxPairsPerForward: 5 }), [lists]);
    const rng = new SeededRandom(5);
    const prepared = lists.map((l) => ({ l, p: prepareList(l, 6, rng) }));
    const pairs = prepared.flatMap(({ l, p }) => p.docs.map((d) => [l.query, d] as [string, string]));
    const batches: PairBatch[] = [];
    for (let s = 0; s < pairs.length; s += 5) batches.push(await b.encodeForTraining(pairs.slice(s, s + 5)));
    const vars = b.trainableVariables();
    const byTf = new Map([...vars].map(([n, v]) => [v.name, n]));
    const labels = tf.tensor2d(prepared.map(({ p }) => p.labels));
    const mask = tf.tensor2d(prepared.map(({ p }) => p.mask));
    const { value, grads } = tf.variableGrads(() => {
      const scores = tf.reshape(tf.concat(batches.map((x) => b.forward(x, true))), [3, 6]) as tf.Tensor2D;
      return getLoss('ranknet')(scores, labels, mask).loss;
    }, [...vars.values()]);
    for (const [tfName, g] of Object.entries(grads)) {
      expectClose(chunked.get(byTf.get(tfName)!)!, g.dataSync(), 1e-5, 1e-4, `grad ${byTf.get(tfName)}`);
    }
    tf.dispose([value, labels, mask, ...Object.values(grads)]);
    batches.forEach((x) => b.disposeBatch(x));
    a.dispose();
    b.dispose();
  });

  it('is reproducible: the same seed gives identical losses', async () => {
    const run = async () => {
      const model = tinyModel(0.1, 3);
      const t = new Trainer(model, { ...quiet, maxSteps: 4, listsPerBatch: 2, seed: 11 });
      const r = await t.train(toyLists(8, 8, 4));
      t.dispose();
      model.dispose();
      return r.losses;
    };
    const [a, b] = [await run(), await run()];
    expect(a).to.have.length(4);
    expect(a).to.deep.equal(b);
  });

  it('resumes from a checkpoint with the same losses as an uninterrupted run', async () => {
    const lists = toyLists(8, 6, 5);
    const cfg: TrainerConfig = { ...quiet, listsPerBatch: 2, lr: 1e-3, seed: 3, epochs: 2 };
    const m1 = tinyModel(0.1, 4);
    const full = await new Trainer(m1, cfg).train(lists);
    const dir = tmpDir();
    const m2 = tinyModel(0.1, 4);
    // Killed during step 4, after the checkpoint at step 3.
    const killed = new Trainer(m2, { ...cfg, outputDir: dir, checkpointEvery: 3, onLog: (r) => {
      if (r.step === 4) throw new Error('killed');
    } });
    let err: unknown;
    await killed.train(lists).catch((e: unknown) => (err = e));
    expect((err as Error).message).to.equal('killed');
    const m3 = tinyModel(0.1, 77); // different init: the checkpoint must overwrite it
    const resumed = await new Trainer(m3, { ...cfg, resumeFrom: `${dir}/checkpoint` }).train(lists);
    expect(full.losses).to.have.length(8);
    expect(resumed.losses).to.deep.equal(full.losses);
    for (const m of [m1, m2, m3]) m.dispose();
  });

  it('learns a toy task: the loss falls and relevant documents rise', async () => {
    const model = tinyModel(0, 5);
    const lists = toyLists(48, 6, 6);
    const devLists = toyLists(12, 6, 60);
    const mrr = async () => {
      let s = 0;
      for (const l of devLists) {
        const ranked = await model.rank(l.query, l.docs);
        s += 1 / (ranked.findIndex((r) => l.labels[r.index] > 0) + 1);
      }
      return s / devLists.length;
    };
    const before = await mrr();
    const t = new Trainer(model, { ...quiet, lr: 5e-3, epochs: 3, listsPerBatch: 4, loss: 'ranknet', warmupRatio: 0.1, evaluate: async () => ({ mrr: await mrr() }) });
    const r = await t.train(lists);
    const first = r.losses.slice(0, 6).reduce((a, b) => a + b) / 6;
    const last = r.losses.slice(-6).reduce((a, b) => a + b) / 6;
    expect(last).to.be.lessThan(first * 0.5);
    expect(r.best!.metrics.mrr).to.be.greaterThan(Math.max(before, 0.7));
    expect(await mrr()).to.equal(r.best!.metrics.mrr); // best weights restored
    model.dispose();
  });

  it('selects the best evaluated model and stops early on patience', async () => {
    const model = tinyModel(0, 6);
    const seq = [0.3, 0.9, 0.5, 0.4, 0.2];
    let i = 0;
    let atBest: number[] = [];
    const w = () => Array.from(model.trainableVariables().get('classifier.weight')!.dataSync());
    const t = new Trainer(model, {
      ...quiet, lr: 1e-2, listsPerBatch: 1, evalEvery: 1, patience: 2, epochs: 10,
      evaluate: async () => {
        const v = seq[i++];
        if (v === 0.9) atBest = w();
        return { ndcg: v };
      },
    });
    const r = await t.train(toyLists(10, 6, 7));
    expect(r.best).to.deep.equal({ step: 2, metrics: { ndcg: 0.9 } });
    expect(r.stoppedEarly).to.equal(true);
    expect(r.steps).to.equal(4);
    expect(w()).to.deep.equal(atBest);
    model.dispose();
  });

  it('evaluates the final weights when maxSteps ends training mid-epoch', async () => {
    const model = tinyModel(0, 8);
    const steps: number[] = [];
    const t = new Trainer(model, { ...quiet, listsPerBatch: 1, maxSteps: 3, evaluate: async () => (steps.push(0), { ndcg: 0.5 }) });
    const r = await t.train(toyLists(10, 6, 9));
    expect(steps).to.have.length(1);
    expect(r.history.map((h) => h.step)).to.deep.equal([3]);
    expect(r.best?.step).to.equal(3);
    t.dispose();
    model.dispose();
  });

  it('stops on a non-finite loss with a clear error, keeping the weights of the last good step', async () => {
    const model = tinyModel(0, 7);
    const dir = tmpDir();
    let calls = 0;
    const t = new Trainer(model, {
      ...quiet, listsPerBatch: 2, outputDir: dir,
      loss: (s, y, m) => {
        calls++;
        const loss = tf.tidy(() => (calls > 2 ? tf.mul(tf.sum(s), NaN) : tf.mean(tf.square(tf.sub(s, y)))) as tf.Scalar);
        return { loss, perList: tf.zeros([s.shape[0]]) as tf.Tensor1D };
      },
    });
    const before = tf.memory().numTensors;
    let err: unknown;
    try {
      await t.train(toyLists(8, 6, 8));
    } catch (e) {
      err = e;
    }
    expect(err).to.be.instanceOf(NonFiniteLossError);
    expect((err as Error).message).to.match(/not finite at optimiser step 3 \(lists of queries q\d+, q\d+\); the state before this step is saved in .*checkpoint-last-good/);
    t.dispose();
    expect(tf.memory().numTensors).to.be.at.most(before);
    model.dispose();
  });
});

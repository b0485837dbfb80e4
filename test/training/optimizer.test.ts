import { expect } from 'chai';
import * as tf from '@tensorflow/tfjs-core';
import { AdamW, clipByGlobalNorm, defaultDecay } from '../../src/training/optimizer.js';
import { makeSchedule } from '../../src/training/schedules.js';
import { expectClose } from '../helpers.js';

/** torch.optim.AdamW's update, written out in float64. */
function adamwReference(p: number[], grads: number[][], o: { lr: number; b1: number; b2: number; eps: number; wd: number }): number[] {
  const m = p.map(() => 0);
  const v = p.map(() => 0);
  const x = p.slice();
  grads.forEach((g, k) => {
    const t = k + 1;
    for (let i = 0; i < x.length; i++) {
      x[i] *= 1 - o.lr * o.wd;
      m[i] = o.b1 * m[i] + (1 - o.b1) * g[i];
      v[i] = o.b2 * v[i] + (1 - o.b2) * g[i] * g[i];
      const mh = m[i] / (1 - o.b1 ** t);
      const vh = v[i] / (1 - o.b2 ** t);
      x[i] -= (o.lr * mh) / (Math.sqrt(vh) + o.eps);
    }
  });
  return x;
}

describe('AdamW', () => {
  it('matches a hand-computed AdamW trajectory (3 steps, decoupled decay)', async () => {
    const init = [0.5, -1.25, 2, 0.003];
    const grads = [[0.1, -0.2, 0.3, 0], [0.05, 0.4, -1, 2], [-0.3, 0.01, 0.2, -0.5]];
    const o = { lr: 0.01, b1: 0.9, b2: 0.999, eps: 1e-8, wd: 0.1 };
    const w = tf.variable(tf.tensor1d(init));
    const b = tf.variable(tf.tensor1d(init));
    const params = new Map([['layer.dense.weight', w], ['layer.dense.bias', b]]);
    const opt = new AdamW({ lr: o.lr, beta1: o.b1, beta2: o.b2, eps: o.eps, weightDecay: o.wd });
    for (const g of grads) {
      const gt = tf.tensor1d(g);
      opt.apply(params, new Map([['layer.dense.weight', gt], ['layer.dense.bias', gt]]));
      gt.dispose();
    }
    expectClose(w.dataSync(), adamwReference(init, grads, o), 1e-6, 1e-6, 'decayed weight');
    expectClose(b.dataSync(), adamwReference(init, grads, { ...o, wd: 0 }), 1e-6, 1e-6, 'bias (no decay)');
    // A step allocates nothing that outlives it once the moments exist.
    const before = tf.memory().numTensors;
    const gt = tf.tensor1d([1, 1, 1, 1]);
    opt.apply(params, new Map([['layer.dense.weight', gt]]));
    gt.dispose();
    expect(tf.memory().numTensors).to.equal(before);
    expect(opt.step).to.equal(4);
    opt.dispose();
    w.dispose();
    b.dispose();
  });

  it('round-trips its state', () => {
    const p = tf.variable(tf.tensor1d([1, 2]));
    const params = new Map([['w', p]]);
    const a = new AdamW({ lr: 0.1 });
    const g = tf.tensor1d([0.5, -0.5]);
    a.apply(params, new Map([['w', g]]));
    const b = new AdamW({ lr: 0.1 });
    b.setState(a.getState(), params);
    const q = tf.variable(p.clone());
    a.apply(params, new Map([['w', g]]));
    b.apply(new Map([['w', q]]), new Map([['w', g]]));
    expect(Array.from(q.dataSync())).to.deep.equal(Array.from(p.dataSync()));
    expect(b.step).to.equal(2);
    [a, b].forEach((o) => o.dispose());
    [p, q, g].forEach((t) => t.dispose());
  });

  it('excludes biases and normalisation weights from decay by default', () => {
    for (const n of ['bert.encoder.layer.0.attention.self.query.bias', 'bert.embeddings.LayerNorm.weight', 'encoder.final_layer_norm.weight',
      'model.layers.0.input_layernorm.weight', 'model.norm.weight', 'encoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight']) {
      expect(defaultDecay(n), n).to.equal(false);
    }
    for (const n of ['bert.encoder.layer.0.attention.self.query.weight', 'classifier.weight', 'bert.embeddings.word_embeddings.weight']) {
      expect(defaultDecay(n), n).to.equal(true);
    }
  });
});

describe('gradient clipping', () => {
  it('scales to the global norm like torch.nn.utils.clip_grad_norm_', () => {
    const grads = new Map<string, tf.Tensor>([['a', tf.tensor1d([3, 0])], ['b', tf.tensor1d([0, 4])]]);
    const { grads: clipped, norm } = clipByGlobalNorm(grads, 1);
    expect(norm).to.be.closeTo(5, 1e-6);
    expectClose(clipped.get('a')!.dataSync(), [3 / (5 + 1e-6), 0], 1e-7);
    expectClose(clipped.get('b')!.dataSync(), [0, 4 / (5 + 1e-6)], 1e-7);
    const { grads: same } = clipByGlobalNorm(grads, 10);
    expect(Array.from(same.get('a')!.dataSync())).to.deep.equal([3, 0]);
    for (const m of [grads, clipped, same]) for (const g of m.values()) g.dispose();
  });
});

describe('learning-rate schedules (HF get_*_schedule_with_warmup)', () => {
  it('constant, linear and cosine at hand-computed points', () => {
    const lin = makeSchedule({ name: 'linear', totalSteps: 110, warmupSteps: 10 });
    expect([0, 5, 10, 60, 110, 200].map(lin)).to.deep.equal([0, 0.5, 1, 0.5, 0, 0]);
    const cos = makeSchedule({ name: 'cosine', totalSteps: 110, warmupSteps: 10 });
    expect(cos(5)).to.equal(0.5);
    expect(cos(10)).to.be.closeTo(1, 1e-12);
    expect(cos(60)).to.be.closeTo(0.5, 1e-12);
    expect(cos(35)).to.be.closeTo(0.5 * (1 + Math.cos(Math.PI * 0.25)), 1e-12);
    expect(cos(110)).to.be.closeTo(0, 1e-12);
    const c = makeSchedule({ name: 'constant', totalSteps: 10 });
    expect([0, 5, 99].map(c)).to.deep.equal([1, 1, 1]);
    const cw = makeSchedule({ name: 'constant_with_warmup', totalSteps: 10, warmupSteps: 4 });
    expect([0, 2, 4, 9].map(cw)).to.deep.equal([0, 0.5, 1, 1]);
  });
});

// The hand-written gradients (tf.customGrad) of the shared layers and of the BERT encoder layer,
// checked two ways: against tfjs's autodiff of the textbook formula written here with plain tfjs
// ops, and against central finite differences of the forward pass (directional derivatives along
// random directions, which float32 resolves well). Both with the backend's native fused kernels and
// with the composite tfjs versions, which must agree with each other too.
import * as tf from '@tensorflow/tfjs-core';
import { expect } from 'chai';
import { adamwUpdate, dropoutMask, setNativeFusedKernels, sumOfSquares } from '../../src/backend/fused.js';
import { BertModel } from '../../src/models/bert/model.js';
import { bertConfig } from '../../src/models/bert/config.js';
import { additiveMask, dropout, geluErf, geluTanh, layerNorm, linear, activation, SeedStream } from '../../src/models/common/layers.js';
import { CrossEncoder } from '../../src/models/cross-encoder.js';
import { Trainer } from '../../src/training/trainer.js';
import type { TrainingList } from '../../src/data/lists.js';
import { dataPath, expectClose, expectNoLeak } from '../helpers.js';

let seed = 11;
function rand(shape: number[], scale = 1): tf.Tensor {
  seed += 1;
  return tf.mul(tf.randomNormal(shape, 0, 1, 'float32', seed), scale);
}

/** Gradients of Σ f(xs)·R for a fixed random R (so every output element matters). */
function gradsOf(f: (...xs: tf.Tensor[]) => tf.Tensor, xs: tf.Tensor[], r: tf.Tensor): tf.Tensor[] {
  return tf.grads((...a: tf.Tensor[]) => tf.sum(tf.mul(f(...a), r)))(xs);
}

/**
 * Central difference of L(xs) = Σ f(xs)·R along random directions d, against Σ⟨∇L, d⟩.
 * Tolerance: relative to the size of the directional derivative, plus float32 round-off.
 */
function checkFiniteDifferences(f: (...xs: tf.Tensor[]) => tf.Tensor, xs: tf.Tensor[], r: tf.Tensor, what: string, eps = 1e-2, rtol = 3e-3): void {
  tf.tidy(() => {
    const grads = gradsOf(f, xs, r);
    for (let trial = 0; trial < 3; trial++) {
      const dirs = xs.map((x) => rand(x.shape));
      const loss = (sign: number) => tf.sum(tf.mul(f(...xs.map((x, i) => tf.add(x, tf.mul(dirs[i], sign * eps)))), r)).dataSync()[0];
      const fd = (loss(1) - loss(-1)) / (2 * eps);
      const analytic = grads.reduce((acc, g, i) => acc + tf.sum(tf.mul(g, dirs[i])).dataSync()[0], 0);
      expect(Math.abs(fd - analytic), `${what}: finite difference ${fd} vs gradient ${analytic}`).to.be.at.most(rtol * Math.abs(analytic) + 2e-3);
    }
  });
}

function checkAgainstAutodiff(custom: (...xs: tf.Tensor[]) => tf.Tensor, reference: (...xs: tf.Tensor[]) => tf.Tensor, xs: tf.Tensor[], what: string, atol = 1e-5, rtol = 1e-4): void {
  tf.tidy(() => {
    const r = rand(reference(...xs).shape);
    expectClose(custom(...xs).dataSync(), reference(...xs).dataSync(), atol, rtol, `${what} forward`);
    const got = gradsOf(custom, xs, r);
    const want = gradsOf(reference, xs, r);
    got.forEach((g, i) => expectClose(g.dataSync(), want[i].dataSync(), atol, rtol, `${what} gradient of input ${i}`));
  });
}

// Textbook references, differentiated by tfjs.
const refLinear = (x: tf.Tensor, w: tf.Tensor, b?: tf.Tensor) => {
  const y = tf.reshape(tf.matMul(tf.reshape(x, [-1, x.shape[x.rank - 1]]), w, false, true), [...x.shape.slice(0, -1), w.shape[0]]);
  return b ? tf.add(y, b) : y;
};
const refLayerNorm = (x: tf.Tensor, g: tf.Tensor, b: tf.Tensor, eps: number) => {
  const mean = tf.mean(x, -1, true);
  const c = tf.sub(x, mean);
  return tf.add(tf.mul(tf.div(c, tf.sqrt(tf.add(tf.mean(tf.square(c), -1, true), eps))), g), b);
};
const refGeluErf = (x: tf.Tensor) => tf.mul(tf.mul(x, 0.5), tf.add(tf.erf(tf.div(x, Math.SQRT2)), 1));
const refGeluTanh = (x: tf.Tensor) => tf.mul(tf.mul(x, 0.5), tf.add(tf.tanh(tf.mul(tf.add(x, tf.mul(tf.pow(x, 3), 0.044715)), Math.sqrt(2 / Math.PI))), 1));

for (const nativeKernels of [true, false]) {
  describe(`custom gradients of the shared layers (${nativeKernels ? 'native fused kernels' : 'composite tfjs kernels'})`, () => {
    before(() => setNativeFusedKernels(nativeKernels));
    after(() => setNativeFusedKernels(true));

    it('linear (2-D and 3-D, with and without bias) = autodiff and finite differences', async () => {
      await expectNoLeak(() =>
        tf.tidy(() => {
          const w = rand([5, 7], 0.5);
          const b = rand([5]);
          for (const x of [rand([6, 7]), rand([2, 3, 7])]) {
            checkAgainstAutodiff((x, w, b) => linear(x, w, b), (x, w, b) => refLinear(x, w, b), [x, w, b], `linear ${x.rank}-D`);
            checkAgainstAutodiff((x, w) => linear(x, w), (x, w) => refLinear(x, w), [x, w], `linear ${x.rank}-D without bias`);
            checkFiniteDifferences((x, w, b) => linear(x, w, b), [x, w, b], rand([...x.shape.slice(0, -1), 5]), `linear ${x.rank}-D`);
          }
        }),
      );
    });

    it('LayerNorm = autodiff and finite differences (eps 1e-12 and 1e-5, offset and scaled inputs)', async () => {
      await expectNoLeak(() =>
        tf.tidy(() => {
          for (const eps of [1e-12, 1e-5]) {
            const x = tf.add(rand([2, 4, 16], 3), 1.5);
            const g = tf.add(rand([16], 0.3), 1);
            const b = rand([16], 0.1);
            checkAgainstAutodiff((x, g, b) => layerNorm(x, g, b, eps), (x, g, b) => refLayerNorm(x, g, b, eps), [x, g, b], `LayerNorm eps ${eps}`, 2e-5, 2e-4);
            checkFiniteDifferences((x, g, b) => layerNorm(x, g, b, eps), [x, g, b], rand([2, 4, 16]), `LayerNorm eps ${eps}`, 1e-2);
          }
        }),
      );
    });

    it('GELU (erf and tanh) and the other activations = autodiff and finite differences', async () => {
      await expectNoLeak(() =>
        tf.tidy(() => {
          const x = rand([3, 40], 2.5);
          checkAgainstAutodiff((x) => geluErf(x), refGeluErf, [x], 'gelu (erf)');
          checkAgainstAutodiff((x) => geluTanh(x), refGeluTanh, [x], 'gelu (tanh)');
          checkAgainstAutodiff((x) => activation('silu')(x), (x) => tf.mul(x, tf.sigmoid(x)), [x], 'silu');
          checkAgainstAutodiff((x) => activation('tanh')(x), (x) => tf.tanh(x), [x], 'tanh');
          // relu away from its kink, where the derivative is defined
          const xr = tf.add(x, tf.mul(tf.sign(x), 0.1));
          checkAgainstAutodiff((x) => activation('relu')(x), (x) => tf.relu(x), [xr], 'relu');
          for (const name of ['gelu', 'gelu_new', 'silu', 'tanh']) checkFiniteDifferences((x) => activation(name)(x), [x], rand([3, 40]), name, 1e-3);
          checkFiniteDifferences((x) => activation('relu')(x), [xr], rand([3, 40]), 'relu', 1e-3);
        }),
      );
    });

    it('dropout = autodiff of x·mask/(1−p) with the same mask, and finite differences; identity when not training', async () => {
      await expectNoLeak(() =>
        tf.tidy(() => {
          const x = rand([4, 50]);
          const keep = tf.cast(dropoutMask([4, 50], 0.3, 1234), 'float32');
          checkAgainstAutodiff((x) => dropout(x, 0.3, true, 1234), (x) => tf.mul(x, tf.div(keep, 0.7)), [x], 'dropout');
          checkFiniteDifferences((x) => dropout(x, 0.3, true, 1234), [x], rand([4, 50]), 'dropout');
          // About 30% dropped, the same mask for the same seed, a different one for another seed.
          const kept = tf.sum(keep).dataSync()[0];
          expect(kept).to.be.within(200 * 0.6, 200 * 0.8);
          expect(Array.from(tf.cast(dropoutMask([4, 50], 0.3, 1234), 'float32').dataSync())).to.deep.equal(Array.from(keep.dataSync()));
          expect(Array.from(tf.cast(dropoutMask([4, 50], 0.3, 1235), 'float32').dataSync())).to.not.deep.equal(Array.from(keep.dataSync()));
          expect(dropout(x, 0.3, false, 1234)).to.equal(x);
          // The drop rate over many elements, odd sizes included (±4.5σ of a binomial).
          for (const [shape, rate] of [[[201, 999], 0.1], [[3, 7, 11], 0.5], [[1], 0.25]] as Array<[number[], number]>) {
            const m = dropoutMask(shape, rate, 77);
            expect(m.shape).to.deep.equal(shape);
            const n = m.size;
            const dropped = n - tf.sum(tf.cast(m, 'float32')).dataSync()[0];
            if (n > 100) expect(Math.abs(dropped / n - rate)).to.be.at.most(4.5 * Math.sqrt((rate * (1 - rate)) / n));
          }
        }),
      );
    });
  });
}

describe('native fused kernels = composite tfjs kernels', () => {
  it('the same forward values and gradients for every shared layer', async () => {
    await expectNoLeak(() =>
      tf.tidy(() => {
        const x = rand([2, 3, 12], 2);
        const w = rand([10, 12], 0.3);
        const b = rand([10]);
        const g = tf.add(rand([12], 0.2), 1);
        const beta = rand([12], 0.1);
        const fns: Array<[string, (...a: tf.Tensor[]) => tf.Tensor, tf.Tensor[]]> = [
          ['linear', (x, w, b) => linear(x, w, b), [x, w, b]],
          ['LayerNorm', (x, g, beta) => layerNorm(x, g, beta, 1e-12), [x, g, beta]],
          ['gelu', (x) => geluErf(x), [x]],
          ['gelu_new', (x) => geluTanh(x), [x]],
          ['dropout', (x) => dropout(x, 0.25, true, 99), [x]],
        ];
        for (const [name, f, xs] of fns) {
          const r = rand(f(...xs).shape);
          const run = (native: boolean) => {
            setNativeFusedKernels(native);
            try {
              return [f(...xs), ...gradsOf(f, xs, r)].map((t) => t.dataSync());
            } finally {
              setNativeFusedKernels(true);
            }
          };
          const [nat, comp] = [run(true), run(false)];
          // Masks come from different generators on the two paths; compare dropout by its own rule.
          if (name === 'dropout') continue;
          nat.forEach((v, i) => expectClose(v, comp[i], 1e-5, 1e-4, `${name} output ${i}`));
        }
      }),
    );
  });
});

describe('native fused optimiser kernels = composite tfjs kernels', () => {
  it('AdamW update (with and without decay) and the sum of squares of many tensors', async () => {
    await expectNoLeak(() =>
      tf.tidy(() => {
        const [p, m, g] = [rand([7, 3]), rand([7, 3], 0.1), rand([7, 3])];
        const v = tf.abs(rand([7, 3], 0.01));
        for (const decay of [1, 1 - 1e-3 * 0.01]) {
          const step = { beta1: 0.9, beta2: 0.999, eps: 1e-8, decay, bc1: 1 - 0.9 ** 3, bc2: 1 - 0.999 ** 3, lr: 1e-3 };
          const nat = adamwUpdate(p, m, v, g, step).map((t) => t.dataSync());
          setNativeFusedKernels(false);
          const comp = adamwUpdate(p, m, v, g, step).map((t) => t.dataSync());
          setNativeFusedKernels(true);
          nat.forEach((x, i) => expectClose(x, comp[i], 0, 1e-6, `AdamW output ${i}`));
        }
        const xs = [rand([5]), rand([2, 3]), rand([2, 2, 2])];
        const want = xs.reduce((a, x) => a + Array.from(x.dataSync()).reduce((b, y) => b + y * y, 0), 0);
        expectClose([sumOfSquares(xs).dataSync()[0]], [want], 0, 1e-6, 'sum of squares');
        expectClose([sumOfSquares(xs.slice(0, 1)).dataSync()[0]], [Array.from(xs[0].dataSync()).reduce((b, y) => b + y * y, 0)], 0, 1e-6, 'one tensor');
      }),
    );
  });
});

describe('the BERT encoder layer: hand-written backward', function () {
  this.timeout(120000);
  const config = bertConfig({
    vocab_size: 50, hidden_size: 16, num_hidden_layers: 2, num_attention_heads: 4, intermediate_size: 24, max_position_embeddings: 16,
    hidden_dropout_prob: 0.2, attention_probs_dropout_prob: 0.25, initializer_range: 0.3,
  });
  const [B, S, H] = [2, 5, 16];
  const names = [
    'attention.self.query.weight', 'attention.self.query.bias', 'attention.self.key.weight', 'attention.self.key.bias',
    'attention.self.value.weight', 'attention.self.value.bias', 'attention.output.dense.weight', 'attention.output.dense.bias',
    'attention.output.LayerNorm.weight', 'attention.output.LayerNorm.bias', 'intermediate.dense.weight', 'intermediate.dense.bias',
    'output.dense.weight', 'output.dense.bias', 'output.LayerNorm.weight', 'output.LayerNorm.bias',
  ];

  /** The layer as HF writes it, with tfjs ops only (autodiff), the dropout masks drawn from the same seeds. */
  function referenceLayer(model: BertModel, seedState: number, training: boolean) {
    return (x: tf.Tensor, mask: tf.Tensor, ...w: tf.Tensor[]) => {
      const seeds = new SeedStream(1);
      seeds.setState(seedState);
      const [sa, s1, s2] = [seeds.next(), seeds.next(), seeds.next()];
      const c = model.config;
      const nh = c.num_attention_heads;
      const hd = H / nh;
      const drop = (t: tf.Tensor, rate: number, s: number) =>
        training ? tf.mul(t, tf.div(tf.cast(dropoutMask(t.shape, rate, s), 'float32'), 1 - rate)) : t;
      const lin = (t: tf.Tensor, wi: number) => tf.add(tf.matMul(t, w[wi], false, true), w[wi + 1]);
      const heads = (t: tf.Tensor) => tf.transpose(tf.reshape(t, [B, S, nh, hd]), [0, 2, 1, 3]);
      const q = heads(lin(x, 0));
      const k = heads(lin(x, 2));
      const v = heads(lin(x, 4));
      const probs = tf.softmax(tf.add(tf.div(tf.matMul(q, k, false, true), Math.sqrt(hd)), mask));
      const ctx = tf.reshape(tf.transpose(tf.matMul(drop(probs, c.attention_probs_dropout_prob, sa), v), [0, 2, 1, 3]), [B * S, H]);
      const a = refLayerNorm(tf.add(drop(lin(ctx, 6), c.hidden_dropout_prob, s1), x), w[8], w[9], c.layer_norm_eps);
      const inter = refGeluErf(lin(a, 10));
      return refLayerNorm(tf.add(drop(lin(inter, 12), c.hidden_dropout_prob, s2), a), w[14], w[15], c.layer_norm_eps);
    };
  }

  function setup() {
    const model = new BertModel(config, 3);
    const x = rand([B * S, H]);
    // Second pair padded after 3 tokens.
    const mask = additiveMask(tf.tensor2d([[1, 1, 1, 1, 1], [1, 1, 1, 0, 0]], undefined, 'int32'));
    const w = names.map((n) => model.params.get(`bert.encoder.layer.0.${n}`));
    return { model, x, mask, w };
  }

  for (const training of [false, true]) {
    for (const nativeKernels of [true, false]) {
      it(`${training ? 'training (dropout)' : 'eval'}, ${nativeKernels ? 'native' : 'composite'} kernels: output and all 17 gradients = autodiff of the reference layer`, async () => {
        setNativeFusedKernels(nativeKernels);
        const { model, x, mask, w } = setup();
        try {
          await expectNoLeak(() =>
            tf.tidy(() => {
              const state = model.seeds.getState();
              // The layer reads its weights (the variables differentiated here) from the model.
              const custom = (xx: tf.Tensor) => {
                model.seeds.setState(state);
                return model.layer(0, xx as tf.Tensor2D, mask as tf.Tensor4D, B, training);
              };
              const ref = referenceLayer(model, state, training);
              checkAgainstAutodiff(custom, (xx, ...ww) => ref(xx, mask, ...ww), [x, ...w], `BERT layer ${training ? 'train' : 'eval'}`, 2e-5, 2e-4);
            }),
          );
        } finally {
          setNativeFusedKernels(true);
          tf.dispose([x, mask]);
          model.dispose();
        }
      });
    }
  }

  it('finite differences of the layer along random directions in the input and all weights (with dropout)', async () => {
    const { model, x, mask, w } = setup();
    const w0 = w.map((v) => v.clone());
    try {
      await expectNoLeak(() =>
        tf.tidy(() => {
          const state = model.seeds.getState();
          const r = rand([B * S, H]);
          const loss = (xx: tf.Tensor) => {
            model.seeds.setState(state);
            return tf.sum(tf.mul(model.layer(0, xx as tf.Tensor2D, mask as tf.Tensor4D, B, true), r));
          };
          const grads = tf.grads((xx: tf.Tensor) => loss(xx))([x, ...w]);
          const eps = 1e-2;
          for (let trial = 0; trial < 3; trial++) {
            const dirs = [x, ...w].map((t) => rand(t.shape));
            const at = (sign: number) =>
              tf.tidy(() => {
                (w as tf.Variable[]).forEach((v, i) => v.assign(tf.add(w0[i], tf.mul(dirs[i + 1], sign * eps))));
                return loss(tf.add(x, tf.mul(dirs[0], sign * eps))).dataSync()[0];
              });
            // Richardson extrapolation of central differences at eps and eps/2 cancels the eps² term.
            const d1 = (at(1) - at(-1)) / (2 * eps);
            const d2 = (at(0.5) - at(-0.5)) / eps;
            const fd = (4 * d2 - d1) / 3;
            (w as tf.Variable[]).forEach((v, i) => v.assign(w0[i]));
            const analytic = grads.reduce((acc, g, i) => acc + tf.sum(tf.mul(g, dirs[i])).dataSync()[0], 0);
            expect(Math.abs(fd - analytic), `finite difference ${fd} vs gradient ${analytic}`).to.be.at.most(5e-3 * Math.abs(analytic) + 2e-3);
          }
        }),
      );
    } finally {
      tf.dispose([x, mask, ...w0]);
      model.dispose();
    }
  });

  it('gradient checkpointing gives the same gradients as keeping the activations, and leaks nothing', async () => {
    const model = new BertModel(config, 5);
    const ids = tf.tensor2d([[3, 7, 9, 11, 2], [4, 8, 2, 0, 0]], undefined, 'int32');
    const am = tf.tensor2d([[1, 1, 1, 1, 1], [1, 1, 1, 0, 0]], undefined, 'int32');
    const vars = [...model.params.trainable().values()];
    const run = (ckpt: boolean) => {
      model.gradientCheckpointing = ckpt;
      model.seeds.setState(77);
      const { value, grads } = tf.variableGrads(() => tf.sum(tf.square(model.forward({ inputIds: ids, attentionMask: am }, { training: true }).pooledOutput)) as tf.Scalar, vars);
      const out = { value: value.dataSync()[0], grads: vars.filter((v) => grads[v.name]).map((v) => grads[v.name].dataSync()) };
      tf.dispose([value, ...Object.values(grads)]);
      return out;
    };
    try {
      const plain = run(false);
      const ckpt = await expectNoLeak(() => run(true), 'checkpointed step');
      expect(ckpt.value).to.equal(plain.value);
      expect(ckpt.grads.length).to.equal(plain.grads.length).and.to.be.greaterThan(30);
      ckpt.grads.forEach((g, i) => expectClose(g, plain.grads[i], 1e-6, 1e-5, `gradient ${i}`));
    } finally {
      tf.dispose([ids, am]);
      model.dispose();
    }
  });
});

describe('gradient checkpointing as a Trainer option', function () {
  this.timeout(120000);
  const lists: TrainingList[] = Array.from({ length: 4 }, (_, i) => ({
    qid: `q${i}`,
    query: `where is the castle ${i}`,
    docs: ['the castle by the river', 'a violin and a planet', 'the castle answer', 'winter coffee', 'the harbor bridge'],
    labels: [1, 0, 0.5, 0, 0],
  }));
  const make = () =>
    new CrossEncoder(
      { vocab_size: 30522, hidden_size: 32, num_hidden_layers: 2, num_attention_heads: 2, intermediate_size: 64, max_position_embeddings: 64 },
      { tokenizer: dataPath('ms-marco-TinyBERT-L-2-v2-tokenizer-config'), seed: 3, maxLength: 48 },
    );

  it('trains to the same losses with and without it, and refuses a model that cannot', async () => {
    const losses: number[][] = [];
    for (const on of [false, true]) {
      const model = make();
      const trainer = new Trainer(model, { progress: false, listSize: 5, listsPerBatch: 2, maxSteps: 3, lr: 1e-3, gradientCheckpointing: on });
      expect(model.bert.gradientCheckpointing).to.equal(on);
      losses.push((await trainer.train(lists)).losses);
      trainer.dispose();
      model.dispose();
    }
    expectClose(losses[1], losses[0], 1e-6, 1e-5, 'losses with checkpointing');
    const plain = { ...make(), setGradientCheckpointing: undefined } as unknown as CrossEncoder;
    expect(() => new Trainer(plain, { gradientCheckpointing: true })).to.throw(/does not support gradient checkpointing/);
    (plain as unknown as { bert: BertModel }).bert.dispose();
  });
});

// The registry, option checking, the user-loss example, the seeded ListMLE tie rule, and leaks.
import * as tf from '@tensorflow/tfjs-core';
import { expect } from 'chai';
import { getLoss, listLosses, listMLE, registerLoss } from '../../src/losses/index.js';
import { InputError } from '../../src/utils/errors.js';
import { top1Hinge } from '../../examples/custom-loss.js';
import { expectClose, expectNoLeak } from '../helpers.js';
import { evaluate, randomBatch, rng, withPadding } from './cases.js';
import type { Matrix } from './reference.js';

const BUILTIN = [
  'sigmoid_cross_entropy',
  'mse',
  'ranknet',
  'pairwise_logistic',
  'pairwise_hinge',
  'pairwise_soft_zero_one',
  'softmax_cross_entropy',
  'poly1_softmax',
  'listnet',
  'listmle',
  'p_listmle',
  'lambdaloss',
  'approx_ndcg',
  'neural_ndcg',
  'kl_divergence',
  'margin_mse',
];

describe('losses: registry', () => {
  it('lists every built-in loss with a description and a source', () => {
    const names = listLosses().map((l) => l.name);
    for (const n of BUILTIN) expect(names, n).to.include(n);
    for (const l of listLosses().filter((x) => BUILTIN.includes(x.name))) {
      expect(l.description, l.name).to.not.equal('');
      expect(l.source, l.name).to.not.equal('');
    }
  });

  it('names are case-insensitive; unknown names throw an InputError on field loss', () => {
    expect(getLoss('RankNet')).to.be.a('function');
    expect(() => getLoss('no_such_loss')).to.throw(InputError, /field 'loss'.*unknown loss 'no_such_loss'/);
  });

  it('unknown options and bad values throw an InputError naming lossOptions.<key>', () => {
    expect(() => getLoss('ranknet', { sigmaa: 1 })).to.throw(InputError, /field 'lossOptions.sigmaa'.*unknown option/);
    expect(() => getLoss('lambdaloss', { scheme: 'ndcg3' })).to.throw(InputError, /lossOptions.scheme/);
    expect(() => getLoss('approx_ndcg', { alpha: -1 })).to.throw(InputError, /lossOptions.alpha/);
    expect(() => getLoss('neural_ndcg', { k: 2.5 })).to.throw(InputError, /lossOptions.k/);
    expect(() => getLoss('kl_divergence', { temperature: NaN })).to.throw(InputError, /lossOptions.temperature/);
    expect(() => getLoss('ranknet', { labelDiffWeighted: 'cubed' })).to.throw(InputError, /lossOptions.labelDiffWeighted/);
    expect(() => getLoss('ranknet', { logBase: 0.5 })).to.throw(InputError, /lossOptions.logBase/);
    expect(getLoss('ranknet', { labelDiffWeighted: 'squared' })).to.be.a('function');
  });

  it('registering a duplicate name throws', () => {
    expect(() => registerLoss('ranknet', () => getLoss('mse'))).to.throw(/already registered/);
  });
});

describe('losses: the user-loss example (examples/custom-loss.ts)', () => {
  it('is registered by name and matches a hand computation', () => {
    const got = evaluate(
      getLoss('top1_hinge', { margin: 0.5 }),
      [
        [2.0, 1.8, -1, NaN],
        [0.3, 0.1, 0.2, 0.0],
      ],
      [
        [3, 1, 0, -1],
        [0, 2, 1, 0],
      ],
      [
        [1, 1, 1, 0],
        [1, 1, 1, 1],
      ],
    );
    // List 1: max(0, .5 − .2) and 0 → 0.15; list 2: (.7 + .6 + .4)/3.
    expectClose(got.perList, [0.15, 1.7 / 3], 1e-6);
    expectClose([got.loss], [(0.15 + 1.7 / 3) / 2], 1e-6);
    expectClose(got.grad.flat(), [-0.25, 0.25, 0, 0, 1 / 6, -0.5, 1 / 6, 1 / 6], 1e-6);
  });

  it('is unchanged by padding anywhere and does not leak', async () => {
    const r = rng(3);
    const loss = top1Hinge();
    const base = randomBatch(r, 'graded', 3, 5, 0);
    const padded = withPadding(base, r);
    const a = await expectNoLeak(() => evaluate(loss, base.S, base.Y, base.M));
    const b = evaluate(loss, padded.S, padded.Y, padded.M);
    expectClose([b.loss], [a.loss], 1e-6, 1e-6);
  });
});

describe('losses: ListMLE tie rules', () => {
  const S: Matrix = [
    [0.5, -0.2, 1.3, 0.1, 0.7],
    [1, 2, 3, 4, 5],
  ];
  const Y: Matrix = [
    [1, 1, 1, 0, 0],
    [2, 2, 0, 0, 1],
  ];
  const M: Matrix = S.map((row) => row.map(() => 1));

  it("'random' is deterministic for a seed, varies between calls, and equals 'score' without ties", () => {
    const a = listMLE({ ties: 'random', seed: 5 });
    const b = listMLE({ ties: 'random', seed: 5 });
    const va = [0, 1, 2, 3, 4, 5].map(() => evaluate(a, S, Y, M).loss);
    const vb = [0, 1, 2, 3, 4, 5].map(() => evaluate(b, S, Y, M).loss);
    expect(va).to.deep.equal(vb);
    expect(new Set(va).size, 'different tie orders across calls').to.be.greaterThan(1);
    const untied = [[3, 1, 4, 0, 2]];
    const s1 = [S[0]];
    const m1 = [M[0]];
    expectClose([evaluate(a, s1, untied, m1).loss], [evaluate(listMLE(), s1, untied, m1).loss], 1e-6);
  });

  it("'score' is the smallest loss over tie orders ('input' order gives at least as much)", () => {
    const score = evaluate(listMLE(), S, Y, M).loss;
    const input = evaluate(listMLE({ ties: 'input' }), S, Y, M).loss;
    expect(score).to.be.at.most(input + 1e-6);
  });
});

describe('losses: components', () => {
  it('poly1_softmax reports cross_entropy and poly1 parts that add up to the loss', async () => {
    const { S, Y, M } = randomBatch(rng(11), 'graded');
    const parts = await expectNoLeak(() =>
      tf.tidy(() => {
        const r = getLoss('poly1_softmax', { epsilon: 2 })(tf.tensor2d(S), tf.tensor2d(Y), tf.tensor2d(M));
        return [r.loss, r.components!.cross_entropy, r.components!.poly1].map((t) => t.dataSync()[0]);
      }),
    );
    expectClose([parts[1] + parts[2]], [parts[0]], 1e-5, 1e-5);
    expectClose([parts[1]], [evaluate(getLoss('softmax_cross_entropy'), S, Y, M, false).loss], 1e-5, 1e-5);
  });
});

describe('losses: no leaks', () => {
  for (const name of BUILTIN) {
    it(name, async () => {
      const loss = getLoss(name);
      const { S, Y, M } = randomBatch(rng(name.length), name === 'kl_divergence' || name === 'margin_mse' ? 'teacher' : 'graded');
      await expectNoLeak(() => {
        const r = tf.tidy(() => loss(tf.tensor2d(S), tf.tensor2d(Y), tf.tensor2d(M)));
        tf.dispose([r.loss, r.perList, ...Object.values(r.components ?? {})]);
      }, name);
    });
  }
});

// The closed-form fast paths (src/losses/fast.ts: value and gradient on the host, wired in with
// tf.customGrad) against the tensor implementations differentiated by tfjs' autodiff, for every
// option they cover, on random padded batches (NaN and ±1e4 garbage in padded slots); the
// finite-difference and peer checks of the other files run on the fast paths too.
import * as tf from '@tensorflow/tfjs-core';
import { expect } from 'chai';
import { expectClose, expectNoLeak } from '../helpers.js';
import { getLoss } from '../../src/losses/index.js';
import { setFastPaths } from '../../src/losses/fast.js';
import { evaluate, randomBatch, rng } from './cases.js';
import { itemWeightOf, listWeightOf } from './reference.js';

const RED = ['SUM', 'MEAN', 'SUM_OVER_BATCH_SIZE', 'SUM_BY_NONZERO_WEIGHTS', 'SUM_OVER_ITEMS', 'LIST_MEAN'];
const CONFIGS: Array<{ name: string; options: Record<string, unknown> }> = [
  ...RED.map((reduction) => ({ name: 'ranknet', options: { reduction } })),
  { name: 'ranknet', options: { sigma: 2, temperature: 0.5, logBase: 2, labelDiffWeighted: 'squared' } },
  { name: 'ranknet', options: { labelDiffWeighted: true, reduction: 'lists' } },
  { name: 'pairwise_hinge', options: { margin: 0.5, gradientAtMargin: 1, reduction: 'SUM' } },
  { name: 'pairwise_soft_zero_one', options: { temperature: 2, reduction: 'MEAN' } },
  ...RED.map((reduction) => ({ name: 'softmax_cross_entropy', options: { reduction } })),
  { name: 'softmax_cross_entropy', options: { temperature: 0.5, listWeights: 'uniform' } },
  ...['ranknet', 'ranknet_weighted_by_gt_diff', 'ranknet_weighted_by_gt_diff_powed', 'ndcg_loss1', 'ndcg_loss2', 'lambdarank', 'ndcg_loss2pp'].map((scheme) => ({
    name: 'lambdaloss',
    options: { scheme },
  })),
  { name: 'lambdaloss', options: { k: 3, sigma: 2, mu: 3, gain: 'linear', logBase: Math.E, reduction: 'lists' } },
  { name: 'lambdaloss', options: { sigmoidClamp: 1e-10, ties: 'index', reduction: 'sum' } },
  { name: 'lambdaloss', options: { scheme: 'lambdarank', sigmoidClamp: 0.3, reduction: 'SUM_BY_NONZERO_WEIGHTS' } },
];

function weightsFor(kind: 'none' | 'item' | 'list', Y: number[][], M: number[][]) {
  if (kind === 'none') return undefined;
  return kind === 'item' ? Y.map((row) => row.map(itemWeightOf)) : M.map((row) => listWeightOf(row.filter((m) => m > 0).length));
}

describe('losses: closed-form fast paths vs autodiff of the tensor implementations', () => {
  for (const c of CONFIGS)
    for (const wk of ['none', 'item', 'list'] as const) {
      it(`${c.name} ${JSON.stringify(c.options)} weights ${wk}`, async () => {
        const r = rng(JSON.stringify(c).length * 13 + wk.length);
        for (let trial = 0; trial < 2; trial++) {
          const { S, Y, M } = randomBatch(r, 'graded', 4, 4 + 2 * trial);
          if (trial === 1) S[0] = S[0].map((v, i) => (i % 2 ? 1e4 : -1e4) + v); // far apart scores (clamps bind)
          const W = weightsFor(wk, Y, M);
          const run = (fast: boolean) => {
            const was = setFastPaths(fast);
            try {
              const loss = getLoss(c.name, c.options);
              if (!W) return evaluate(loss, S, Y, M);
              const w = tf.tensor(W as number[]) as tf.Tensor1D | tf.Tensor2D;
              try {
                return evaluate((s, y, m) => loss(s, y, m, w), S, Y, M);
              } finally {
                w.dispose();
              }
            } finally {
              setFastPaths(was);
            }
          };
          const fast = await expectNoLeak(() => run(true), 'fast path');
          const slow = run(false);
          const what = `${c.name} ${wk} trial ${trial}`;
          expectClose([fast.loss], [slow.loss], 1e-5, 1e-4, `${what}: loss`);
          expectClose(fast.perList, slow.perList, 1e-5, 1e-4, `${what}: perList`);
          expectClose(fast.grad.flat(), slow.grad.flat(), 1e-5, 1e-4, `${what}: gradient`);
          M.forEach((row, b) => row.forEach((m, i) => m > 0 || expect(fast.grad[b][i], 'gradient at padding').to.equal(0)));
        }
      });
    }
});

// Every loss against its float64 reference (value, per-list values) and against central finite
// differences of the reference (gradient w.r.t. every score, padded ones included), on random
// batches with padding anywhere.
import { expect } from 'chai';
import { expectClose, expectNoLeak } from '../helpers.js';
import { CASES, caseRef, evaluate, makeLoss, randomBatch, rng } from './cases.js';
import { refGradient } from './reference.js';

// float32 against float64: values to 2e-5 + 1e-4·|v|, gradients to 5e-5 + 1e-3·|g|.
const VALUE_ATOL = 2e-5;
const VALUE_RTOL = 1e-4;
const GRAD_ATOL = 5e-5;
const GRAD_RTOL = 1e-3;

describe('losses: values and gradients against the float64 reference', () => {
  for (const c of CASES) {
    it(c.title, async () => {
      const loss = makeLoss(c);
      const r = rng(c.title.length * 7919 + 17);
      for (let trial = 0; trial < 3; trial++) {
        const { S, Y, M } = randomBatch(r, c.labels, 4, 3 + trial * 2);
        const got = await expectNoLeak(() => evaluate(loss, S, Y, M), c.title);
        const want = caseRef(c)(S, Y, M);
        const what = `${c.title} trial ${trial}`;
        expectClose([got.loss], [want.loss], VALUE_ATOL, VALUE_RTOL, `${what} loss`);
        expectClose(got.perList, want.perList, VALUE_ATOL, VALUE_RTOL, `${what} perList`);
        const fd = refGradient(caseRef(c), S, Y, M, undefined);
        expectClose(got.grad.flat(), fd.flat(), GRAD_ATOL, GRAD_RTOL, `${what} gradient`);
        // Padded scores get exactly zero gradient.
        for (let b = 0; b < M.length; b++) for (let i = 0; i < M[b].length; i++) if (!(M[b][i] > 0)) expect(got.grad[b][i], `${what} grad at padding`).to.equal(0);
      }
    });
  }
});

describe('losses: hand-computed values', () => {
  const one = (name: string, s: number[], y: number[], opts?: object) => evaluate(makeLoss({ name, options: opts as Record<string, unknown> } as never), [s], [y], [s.map(() => 1)]).loss;

  it('ranknet on one pair at equal scores is ln 2 (log2 base: 1)', () => {
    expectClose([one('ranknet', [0, 0], [1, 0])], [Math.LN2], 1e-6);
    expectClose([one('ranknet', [0, 0], [1, 0], { logBase: 2 })], [1], 1e-6);
  });

  it('softmax_cross_entropy with one positive of two equal scores is ln 2; label sum weighs the list', () => {
    expectClose([one('softmax_cross_entropy', [0, 0], [1, 0])], [Math.LN2], 1e-6);
    // Labels [2, 0]: target still [1, 0], list weight 2, one list with nonzero weight → 2 ln 2.
    expectClose([one('softmax_cross_entropy', [0, 0], [2, 0])], [2 * Math.LN2], 1e-6);
  });

  it('listmle on two items in the right order is log(1 + e^{s2−s1})', () => {
    expectClose([one('listmle', [2, 1], [1, 0])], [Math.log(1 + Math.exp(-1))], 1e-6);
  });

  it('approx_ndcg of a single relevant item with a far-lower second item is −1', () => {
    expectClose([one('approx_ndcg', [10, -10], [1, 0], { alpha: 10 })], [-1], 1e-6);
  });

  it('pairwise_hinge: margin 1 at score gap 0.25 is 0.75', () => {
    expectClose([one('pairwise_hinge', [0.25, 0], [1, 0])], [0.75], 1e-6);
  });

  it('kl_divergence is 0 when student equals teacher; margin_mse 0 when margins match', () => {
    expectClose([one('kl_divergence', [1, 2, 3], [1, 2, 3])], [0], 1e-6);
    expectClose([one('margin_mse', [1, 2, 3], [11, 12, 13])], [0], 1e-6);
  });

  it('lambdaloss ranknet scheme equals ranknet / ln 2 (log2, mean over pairs)', () => {
    const s = [0.3, -1, 2, 0.5];
    const y = [2, 0, 1, 0];
    expectClose([one('lambdaloss', s, y, { scheme: 'ranknet' })], [one('ranknet', s, y) / Math.LN2], 1e-5, 1e-5);
  });

  it('neural_ndcg of perfectly separated, correctly ordered scores is −1', () => {
    expectClose([one('neural_ndcg', [30, 20, 10], [2, 1, 0], { temperature: 0.1 })], [-1], 1e-5);
  });
});

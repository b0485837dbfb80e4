// The numerics matrix, for every loss: all labels tied, one-item lists, all-padding lists, scores
// ±1e4, labels up to 1e3, padding placed anywhere. No NaN/Inf in value or gradient, the value
// matches the float64 reference, and inserting padding (garbage scores and labels, NaN included,
// plus an all-padding list) changes neither the value nor the gradient of the real items.
import { expect } from 'chai';
import { expectClose } from '../helpers.js';
import { allFinite, CASES, caseRef, evaluate, makeLoss, normal, randomLabel, rng, withPadding, type Batch, type LabelKind } from './cases.js';

type Scenario = { title: string; make: (kind: LabelKind, r: () => number) => Batch };

const full = (S: number[][], Y: number[][]): Batch => ({ S, Y, M: S.map((row) => row.map(() => 1)) });

function lists(count: number, n: number, score: (r: () => number, i: number) => number, label: (r: () => number, i: number) => number, r: () => number) {
  const S = Array.from({ length: count }, () => Array.from({ length: n }, (_, i) => score(r, i)));
  const Y = Array.from({ length: count }, () => Array.from({ length: n }, (_, i) => label(r, i)));
  return full(S, Y);
}

const SCENARIOS: Scenario[] = [
  { title: 'all labels tied', make: (_k, r) => lists(3, 5, (r) => normal(r), () => 2, r) },
  { title: 'one-item lists', make: (k, r) => lists(3, 1, (r) => normal(r), (r) => randomLabel(k, r), r) },
  { title: 'scores ±1e4', make: (k, r) => lists(3, 5, (r, i) => (i % 2 ? 1e4 : -1e4) + normal(r), (r) => randomLabel(k, r), r) },
  {
    title: 'labels up to 1e3',
    make: (k, r) => lists(3, 5, (r) => normal(r), (r, i) => (k === 'prob' ? r() : [1000, 999, 500, 3, 0][i] * (k === 'teacher' ? r() : 1)), r),
  },
  {
    title: 'scores ±1e4 and labels up to 1e3',
    make: (k, r) => lists(2, 4, (r, i) => (i < 2 ? 1e4 : -1e4) * (1 - 0.1 * r()), (r, i) => (k === 'prob' ? r() : [0, 1000, 7, 999][i]), r),
  },
];

// Values: float32 vs float64 (relative, since ±1e4 scores make losses ~1e4); padding invariance is
// float32 vs float32 with the same items in a different layout.
const REF_ATOL = 1e-4;
const REF_RTOL = 1e-4;
const PAD_ATOL = 1e-5;
const PAD_RTOL = 1e-5;

describe('losses: numerics matrix', () => {
  for (const c of CASES) {
    describe(c.title, () => {
      const loss = makeLoss(c);
      for (const sc of SCENARIOS) {
        it(sc.title, () => {
          const r = rng(c.title.length * 31 + sc.title.length);
          const base = sc.make(c.labels, r);
          // Unrescaled 2^y gains: labels scaled into float32's range (see LossCase.maxLabel).
          const cap = c.maxLabel;
          if (cap) base.Y = base.Y.map((row) => row.map((v) => (v > cap ? (v * cap) / 1e3 : v)));
          const got = evaluate(loss, base.S, base.Y, base.M);
          expect(allFinite(got.loss) && allFinite(got.perList) && allFinite(got.grad), `${c.title} / ${sc.title}: finite`).to.equal(true);
          const want = caseRef(c)(base.S, base.Y, base.M);
          expectClose([got.loss], [want.loss], REF_ATOL, REF_RTOL, `${c.title} / ${sc.title}: value vs reference`);

          const padded = withPadding(base, r);
          const gp = evaluate(loss, padded.S, padded.Y, padded.M);
          expect(allFinite(gp.loss) && allFinite(gp.perList) && allFinite(gp.grad), `${c.title} / ${sc.title} padded: finite`).to.equal(true);
          expectClose([gp.loss], [got.loss], PAD_ATOL, PAD_RTOL, `${c.title} / ${sc.title}: value with padding`);
          const rows = padded.S.map((_, b) => b).filter((b) => b !== padded.emptyAt);
          expect(gp.perList[padded.emptyAt], 'all-padding list').to.equal(0);
          rows.forEach((pb, b) => {
            expectClose(gp.perList[pb] === undefined ? [] : [gp.perList[pb]], [got.perList[b]], PAD_ATOL, PAD_RTOL, `${c.title} / ${sc.title}: perList[${b}] with padding`);
            const realGrad = padded.where[b].map((i) => gp.grad[pb][i]);
            expectClose(realGrad, got.grad[b], PAD_ATOL, PAD_RTOL, `${c.title} / ${sc.title}: gradient with padding, list ${b}`);
            gp.grad[pb].forEach((g, i) => {
              if (!padded.where[b].includes(i)) expect(g, 'gradient at padding').to.equal(0);
            });
          });
          gp.grad[padded.emptyAt].forEach((g) => expect(g, 'gradient in the all-padding list').to.equal(0));
        });
      }

      it('batch of all-padding lists: loss 0, gradient 0', () => {
        const S = [
          [NaN, 1e4, -3],
          [0, 0, 0],
        ];
        const Y = [
          [1, -1, 1e3],
          [NaN, 2, 0],
        ];
        const M = [
          [0, 0, 0],
          [0, 0, 0],
        ];
        const got = evaluate(loss, S, Y, M);
        expect(got.loss).to.equal(0);
        expect(got.perList.every((v) => v === 0), 'perList').to.equal(true);
        expect(got.grad.flat().every((g) => g === 0)).to.equal(true);
      });
    });
  }
});

// Property-based invariances (fast-check): permuting the slots of a list (items with their labels
// and mask, padding included) leaves every order-free loss unchanged and permutes its gradient;
// inserting padding anywhere leaves the value unchanged. Scores come from a coarse grid so ties in
// scores and labels are frequent (the tie rules must make the losses order-free).
import fc from 'fast-check';
import { expectClose } from '../helpers.js';
import { CASES, evaluate, makeLoss, type LabelKind } from './cases.js';

const NUM_RUNS = 10;
const ATOL = 1e-5;
const RTOL = 1e-4;

function labelArb(kind: LabelKind): fc.Arbitrary<number> {
  if (kind === 'graded') return fc.integer({ min: 0, max: 3 });
  if (kind === 'prob') return fc.integer({ min: 0, max: 4 }).map((x) => x / 4);
  return fc.integer({ min: -8, max: 8 }).map((x) => x / 2);
}

const slotArb = (kind: LabelKind) =>
  fc.record({
    s: fc.integer({ min: -12, max: 12 }).map((x) => x / 4),
    y: labelArb(kind),
    real: fc.boolean(),
  });

/** Two lists of 1..6 slots each, a permutation of every list, and where to insert padding. */
const caseArb = (kind: LabelKind) =>
  fc
    .tuple(fc.array(slotArb(kind), { minLength: 1, maxLength: 6 }), fc.array(slotArb(kind), { minLength: 1, maxLength: 6 }))
    .chain(([a, b]) => {
      const n = Math.max(a.length, b.length);
      const pad = (l: typeof a) => [...l, ...Array.from({ length: n - l.length }, () => ({ s: 0, y: 0, real: false }))];
      const lists = [pad(a), pad(b)];
      const idx = Array.from({ length: n }, (_, i) => i);
      return fc.record({
        lists: fc.constant(lists),
        perms: fc.tuple(fc.shuffledSubarray(idx, { minLength: n, maxLength: n }), fc.shuffledSubarray(idx, { minLength: n, maxLength: n })),
        inserts: fc.array(fc.integer({ min: 0, max: n }), { minLength: 1, maxLength: 3 }),
      });
    });

type Slot = { s: number; y: number; real: boolean };
const toBatch = (lists: Slot[][]) => ({
  S: lists.map((l) => l.map((x) => (x.real ? x.s : 1e4))),
  Y: lists.map((l) => l.map((x) => (x.real ? x.y : -1))),
  M: lists.map((l) => l.map((x) => (x.real ? 1 : 0))),
});

describe('losses: invariance properties (fast-check)', () => {
  for (const c of CASES) {
    const loss = makeLoss(c);
    if (c.permutationInvariant) {
      it(`${c.title}: permuting items with labels and mask`, () => {
        fc.assert(
          fc.property(caseArb(c.labels), ({ lists, perms }) => {
            const a = toBatch(lists);
            const permuted = lists.map((l, b) => perms[b].map((i) => l[i]));
            const p = toBatch(permuted);
            const ga = evaluate(loss, a.S, a.Y, a.M);
            const gp = evaluate(loss, p.S, p.Y, p.M);
            expectClose([gp.loss], [ga.loss], ATOL, RTOL, 'value after permutation');
            expectClose(gp.perList, ga.perList, ATOL, RTOL, 'perList after permutation');
            const want = perms.map((perm, b) => perm.map((i) => ga.grad[b][i])).flat();
            expectClose(gp.grad.flat(), want, ATOL, RTOL, 'gradient after permutation');
          }),
          { numRuns: NUM_RUNS, seed: 42 },
        );
      });
    }
    it(`${c.title}: inserting padding`, () => {
      fc.assert(
        fc.property(caseArb(c.labels), ({ lists, inserts }) => {
          const a = toBatch(lists);
          const padded = lists.map((l) => {
            const out = [...l];
            for (const at of inserts) out.splice(Math.min(at, out.length), 0, { s: NaN, y: 1e3, real: false });
            return out;
          });
          const p = toBatch(padded);
          // NaN scores at padding too (toBatch writes 1e4 for padded slots; restore NaN for half).
          p.S = p.S.map((row, b) => row.map((v, i) => (!padded[b][i].real && i % 2 ? NaN : v)));
          const ga = evaluate(loss, a.S, a.Y, a.M, false);
          const gp = evaluate(loss, p.S, p.Y, p.M, false);
          expectClose([gp.loss], [ga.loss], ATOL, RTOL, 'value after inserting padding');
          expectClose(gp.perList, ga.perList, ATOL, RTOL, 'perList after inserting padding');
        }),
        { numRuns: NUM_RUNS, seed: 7 },
      );
    });
  }
});

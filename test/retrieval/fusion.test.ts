// Run fusion: round robin and reciprocal-rank fusion (k 60), no duplicates, against hand-computed lists.
import { expect } from 'chai';
import fc from 'fast-check';
import { fuseRuns, reciprocalRankFusion, roundRobin, runOrder } from '../../src/retrieval/index.js';
import { expectClose } from '../helpers.js';

describe('retrieval/fusion', () => {
  const A = ['a', 'b', 'c', 'd'];
  const B = ['c', 'e', 'a'];
  const C = ['f', 'c'];

  it('round robin takes one from each run in turn and skips documents already taken', () => {
    // r=0: a c f; r=1: b e (c taken); r=2: (c taken) (a taken); r=3: d
    expect(roundRobin([A, B, C])).to.deep.equal(['a', 'c', 'f', 'b', 'e', 'd']);
    expect(roundRobin([A, B, C], 4)).to.deep.equal(['a', 'c', 'f', 'b']);
    expect(roundRobin([])).to.deep.equal([]);
  });

  it('reciprocal-rank fusion with k = 60 matches the hand-computed scores', () => {
    const fused = reciprocalRankFusion([A, B, C]);
    // c: 1/63 + 1/61 + 1/62; a: 1/61 + 1/63; f: 1/61; e: 1/62; b: 1/62; d: 1/64.
    // e and b tie: b appeared first (run A is read before run B).
    expect(fused.map((h) => h.docid)).to.deep.equal(['c', 'a', 'f', 'b', 'e', 'd']);
    expectClose(fused.map((h) => h.score), [1 / 63 + 1 / 61 + 1 / 62, 1 / 61 + 1 / 63, 1 / 61, 1 / 62, 1 / 62, 1 / 64], 1e-15);
    expect(reciprocalRankFusion([A, B], { k: 1, depth: 2 }).map((h) => h.docid)).to.deep.equal(['a', 'c']);
    // A docid repeated inside a run counts once, at its best rank.
    expectClose(reciprocalRankFusion([['x', 'x']]).map((h) => h.score), [1 / 61], 1e-15);
  });

  it('property: fused lists hold each document of the inputs exactly once', () => {
    const ids = fc.array(fc.constantFrom('a', 'b', 'c', 'd', 'e', 'f', 'g', 'h'), { maxLength: 8 }).map((l) => [...new Set(l)]);
    fc.assert(
      fc.property(fc.array(ids, { maxLength: 4 }), (lists) => {
        const all = new Set(lists.flat());
        for (const fused of [roundRobin(lists), reciprocalRankFusion(lists).map((h) => h.docid)]) {
          expect(fused).to.have.length(all.size);
          expect(new Set(fused)).to.deep.equal(all);
        }
      }),
      { numRuns: 200 },
    );
  });

  it('fuses whole runs per query, reading each by score (ties by rank)', () => {
    const e = (docid: string, rank: number, score: number) => ({ docid, rank, score });
    const r1 = new Map([['q1', [e('b', 2, 5), e('a', 1, 9)]], ['q2', [e('z', 1, 1)]]]);
    const r2 = new Map([['q1', [e('c', 1, 0), e('a', 2, 0)]]]);
    expect(runOrder(r2.get('q1')!)).to.deep.equal(['c', 'a']);
    const rrf = fuseRuns([r1, r2]);
    expect([...rrf.keys()]).to.deep.equal(['q1', 'q2']);
    expect(rrf.get('q1')).to.deep.equal(['a', 'c', 'b']);
    expect(fuseRuns([r1, r2], { method: 'round-robin' }).get('q1')).to.deep.equal(['a', 'c', 'b']);
    expect(fuseRuns([r1, r2], { method: 'round-robin', depth: 1 }).get('q2')).to.deep.equal(['z']);
  });
});

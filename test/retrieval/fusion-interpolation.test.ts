// Normalised score interpolation (per-query min-max, weighted sum) against hand-computed lists.
import { expect } from 'chai';
import { fuseRuns, interpolateScores } from '../../src/retrieval/index.js';
import { expectClose } from '../helpers.js';

const e = (docid: string, score: number, rank = 0) => ({ docid, score, rank });

describe('retrieval/fusion: normalised interpolation', () => {
  it('min-max normalises each run, weights and sums; a document a run lacks counts 0 there', () => {
    const A = [e('a', 3), e('b', 2), e('c', 1)]; // 1, 0.5, 0
    const B = [e('c', 10), e('d', 0)]; // 1, 0
    const fused = interpolateScores([A, B], [0.5, 0.5]);
    // a 0.5, c 0 + 0.5, b 0.25, d 0; a and c tie: a appeared first.
    expect(fused.map((h) => h.docid)).to.deep.equal(['a', 'c', 'b', 'd']);
    expectClose(fused.map((h) => h.score), [0.5, 0.5, 0.25, 0], 1e-15);
    const w = interpolateScores([A, B], [0.2, 0.8], { depth: 2 });
    expect(w.map((h) => h.docid)).to.deep.equal(['c', 'a']);
    expectClose(w.map((h) => h.score), [0.8, 0.2], 1e-15);
  });

  it('a run of equal scores contributes 0; a repeated docid counts at its best score; weights are checked', () => {
    expectClose(interpolateScores([[e('x', 2), e('y', 2)], [e('y', 1), e('z', 0)]], [1, 1]).map((h) => h.score), [1, 0, 0], 1e-15);
    expect(interpolateScores([[e('x', 2), e('y', 2)], [e('y', 1), e('z', 0)]], [1, 1]).map((h) => h.docid)).to.deep.equal(['y', 'x', 'z']);
    expectClose(interpolateScores([[e('p', 5), e('q', 1), e('p', 0)]], [1]).map((h) => h.score), [1, 0], 1e-15);
    expect(() => interpolateScores([[e('a', 1)]], [0.5, 0.5])).to.throw(/one finite weight per run/);
  });

  it('fuseRuns(method interpolation) fuses whole runs, equal weights by default', () => {
    const r1 = new Map([['q1', [e('a', 3, 1), e('b', 1, 2)]]]);
    const r2 = new Map([['q1', [e('b', 9, 1), e('c', 1, 2)]], ['q2', [e('z', 1, 1)]]]);
    const out = fuseRuns([r1, r2], { method: 'interpolation' });
    expect(out.get('q1')).to.deep.equal(['a', 'b', 'c']);
    expect(out.get('q2')).to.deep.equal(['z']);
    expect(fuseRuns([r1, r2], { method: 'interpolation', weights: [0.2, 0.8] }).get('q1')).to.deep.equal(['b', 'a', 'c']);
  });
});

// Training lists from teacher rankings, runs, permutations, qrels and teacher-label records.
import { expect } from 'chai';
import {
  HARD_NEGATIVE_LABEL, linearRank, listFromRanking, listsFromPermutations, listsFromQrels, listsFromTeacherLabels,
  listsFromTeacherRun, reciprocalRank,
} from '../../src/data/lists.js';
import { prepareList } from '../../src/training/list-sampling.js';
import { toListGrid } from '../../src/models/list-grid.js';
import { SeededRandom } from '../../src/utils/random.js';
import * as tf from '@tensorflow/tfjs-core';

describe('training lists', () => {
  it('labels a teacher ranking 1/(r+1) by default and puts hard negatives at 0', () => {
    const l = listFromRanking('q', 'query', ['a', 'b', 'c'], { hardNegatives: ['x', 'y'] });
    expect(l.docs).to.deep.equal(['a', 'b', 'c', 'x', 'y']);
    expect(l.labels).to.deep.equal([1, 1 / 2, 1 / 3, 0, 0]);
    expect(HARD_NEGATIVE_LABEL).to.equal(0);
  });

  it('supports other rank transforms and a depth cut', () => {
    expect(listFromRanking('q', 'query', ['a', 'b', 'c', 'd'], { transform: linearRank, depth: 3 }).labels).to.deep.equal([3, 2, 1]);
    expect(reciprocalRank(4, 10)).to.equal(0.2);
  });

  it('refuses a transform that would not keep hard negatives below ranked documents', () => {
    const zeroLast = (r: number, depth: number) => depth - 1 - r;
    expect(() => listFromRanking('q', 'query', ['a', 'b'], { transform: zeroLast, hardNegatives: ['x'] })).to.throw(/hard negatives/);
  });

  it('orders a TREC teacher run by its rank column, not its (tied) scores, and names missing texts', () => {
    const run = new Map([['1', [{ docid: 'd2', rank: 2 }, { docid: 'd1', rank: 1 }, { docid: 'd3', rank: 3 }]]]);
    const texts = new Map([['d1', 'one'], ['d2', 'two'], ['d3', 'three']]);
    const [l] = listsFromTeacherRun(run, new Map([['1', 'q one']]), texts, { depth: 2 });
    expect(l).to.deep.equal({ qid: '1', query: 'q one', docs: ['one', 'two'], labels: [1, 0.5] });
    texts.delete('d3');
    expect(() => listsFromTeacherRun(run, new Map([['1', 'q']]), texts, { source: 'run.txt' })).to.throw(/d3.*has no text/);
    expect(() => listsFromTeacherRun(run, new Map(), texts, { source: 'run.txt' })).to.throw(/query 1 .*no text/);
  });

  it('turns Reason-to-Rank permutations (0-based, best first) into labels on the original documents', () => {
    const [l] = listsFromPermutations([{ query: 'q', docs: ['A', 'B', 'C'], permutation: [2, 0, 1] }], { qidPrefix: 'f' });
    expect(l.qid).to.equal('f-0');
    expect(l.docs).to.deep.equal(['C', 'A', 'B']);
    expect(l.labels).to.deep.equal([1, 0.5, 1 / 3]);
  });

  it('labels candidates with qrels grades, unjudged as 0', () => {
    const [l] = listsFromQrels([{ qid: '7', query: 'q', hits: [{ docid: 'a', text: 'A' }, { docid: 'b', text: 'B' }] }], new Map([['7', new Map([['b', 3]])]]));
    expect(l.labels).to.deep.equal([0, 3]);
  });

  it('reads teacher-label records: ranking then hard negatives, texts looked up by docid', () => {
    const rec = { qid: '3', query: 'q', ranking: ['d1', 'd2'], hardNegatives: ['d9'], texts: { d1: 'one', d2: 'two', d9: 'nine' } };
    const [l] = listsFromTeacherLabels([rec]);
    expect(l.docs).to.deep.equal(['one', 'two', 'nine']);
    expect(l.labels).to.deep.equal([1, 0.5, 0]);
    expect(() => listsFromTeacherLabels([{ ...rec, texts: { d1: 'one' } }])).to.throw(/d2 of query 3 has no text/);
  });

  it('pads short lists with a mask and samples long ones keeping the best items, reproducibly', () => {
    const short = prepareList({ qid: 'q', query: 'q', docs: ['a', 'b'], labels: [1, 0] }, 4, new SeededRandom(1));
    expect(short.mask).to.deep.equal([1, 1, 0, 0]);
    expect(short.docs.slice(2)).to.deep.equal(['', '']);
    expect([...short.docs.slice(0, 2)].sort()).to.deep.equal(['a', 'b']);
    const docs = Array.from({ length: 20 }, (_, i) => `d${i}`);
    const labels = docs.map((_, i) => 1 / (i + 1));
    const long = { qid: 'q', query: 'q', docs, labels };
    for (const [sampling, kept] of [['top', 6], ['top-and-random', 3], ['random', 1]] as const) {
      const p = prepareList(long, 6, new SeededRandom(2), sampling);
      expect(p.mask).to.deep.equal([1, 1, 1, 1, 1, 1]);
      const best = [...p.labels].sort((a, b) => b - a);
      expect(best.slice(0, kept), sampling).to.deep.equal(labels.slice(0, kept));
      p.docs.forEach((d, i) => expect(p.labels[i]).to.equal(labels[docs.indexOf(d)]));
      expect(prepareList(long, 6, new SeededRandom(2), sampling)).to.deep.equal(p);
    }
  });

  it('places per-pair values in the [lists, listSize] grid, padding as 0, with gradients to the pairs only', () => {
    const v = tf.tensor1d([10, 20, 30]);
    const slot = [0, -1, 1, 2]; // list 0: pair 0 + padding; list 1: pairs 1, 2
    expect(Array.from(toListGrid(v, slot, [2, 2]).dataSync())).to.deep.equal([10, 0, 20, 30]);
    const g = tf.grad((x: tf.Tensor) => tf.sum(tf.mul(toListGrid(x as tf.Tensor1D, slot, [2, 2]), tf.tensor2d([[1, 5], [2, 3]]))))(v);
    expect(Array.from(g.dataSync())).to.deep.equal([1, 2, 3]);
    tf.dispose([v, g]);
  });
});

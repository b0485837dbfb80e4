// evaluateReranking and its steps on hand-made candidate lists: the run a scorer makes, measures
// computed by hand (|Δ| ≤ 1e-12), one call per query or per set giving the same scores, per-query
// values in the candidates' query order, and the comparison with the first stage equal to the two
// tests run on those values.
import { expect } from 'chai';
import type { CandidateList, Qrels } from '../../src/data/index.js';
import {
  candidatePairs, candidateScores, compareSystems, evaluateReranking, measureScores, pairedTTest, randomizationTest, scoreCandidates, scoresToRun,
} from '../../src/evaluation/index.js';

const lists: CandidateList[] = [
  { qid: 'q1', query: 'cats', hits: [{ docid: 'a', text: 'dogs bark', score: 9 }, { docid: 'b', text: 'cats purr', score: 8 }, { docid: 'c', text: 'cats sleep a lot', score: 7 }] },
  { qid: 'q2', query: 'rain', hits: [{ docid: 'd', text: 'rain falls', score: 5 }, { docid: 'e', text: 'sun shines', score: 4 }, { docid: 'f', text: 'snow', score: 3 }] },
  { qid: 'q3', query: 'unjudged', hits: [{ docid: 'g', text: 'x', score: 1 }] },
];
const qrels: Qrels = new Map([
  ['q1', new Map([['b', 2], ['c', 1]])],
  ['q2', new Map([['d', 1], ['f', 2]])],
]);
/** Word overlap with the query, ties broken by shorter text: a scorer whose ranking is easy to follow. */
const calls: number[] = [];
const scorer = async (pairs: Array<[string, string]>) => {
  calls.push(pairs.length);
  return pairs.map(([q, d]) => (d.split(' ').includes(q) ? 1 : 0) - d.length / 1000);
};
const lg = Math.log2;

describe('evaluation: reranking candidate lists', () => {
  it('scores the top-k with one call per query or one per set, the same scores in candidate order', async () => {
    calls.length = 0;
    const perQuery = await scoreCandidates(scorer, lists, { topK: 2 });
    expect(calls).to.deep.equal([2, 2, 1]);
    calls.length = 0;
    const perSet = await scoreCandidates(scorer, lists, { topK: 2, calls: 'set' });
    expect(calls).to.deep.equal([5]);
    expect([...perSet]).to.deep.equal([...perQuery]);
    expect([...perQuery.get('q1')!.keys()]).to.deep.equal(['a', 'b']);
    expect(candidatePairs(lists, 2)).to.deep.equal([['cats', 'dogs bark'], ['cats', 'cats purr'], ['rain', 'rain falls'], ['rain', 'sun shines'], ['unjudged', 'x']]);
    const run = scoresToRun(perQuery, 'mine').get('q1')!;
    expect(run.map((e) => [e.docid, e.rank, e.tag])).to.deep.equal([['a', 1, 'mine'], ['b', 2, 'mine']]);
    expect(() => candidateScores(lists, [1, 2, 3], 2)).to.throw(/3 scores for 5 candidates/);
    const err = await scoreCandidates(async () => [1], lists).then(() => null, (e: Error) => e);
    expect(err?.message).to.match(/returned 1 scores for the 3 candidates of query q1/);
  });

  it('measures by hand: nDCG@10 graded, MRR@10 at relevance ≥ 2, per query in the lists’ order (unjudged 0)', async () => {
    const r = await evaluateReranking(scorer, { lists, qrels }, { measures: ['ndcg_cut_10', { measure: 'recip_rank_10', relevanceLevel: 2 }], baseline: 'first-stage' });
    // Reranked q1: b (2), c (1), a (0); q2: d (1), f (2), e (0) — f beats e on length.
    const idcg1 = 2 + 1 / lg(3);
    const idcg2 = 2 + 1 / lg(3);
    const n1 = 1;
    const n2 = (1 + 2 / lg(3)) / idcg2;
    expect(r.queries).to.deep.equal(['q1', 'q2', 'q3']);
    expect(Math.abs(r.perQuery.ndcg_cut_10[0] - n1)).to.be.at.most(1e-12);
    expect(Math.abs(r.perQuery.ndcg_cut_10[1] - n2)).to.be.at.most(1e-12);
    expect(r.perQuery.ndcg_cut_10[2]).to.equal(0);
    expect(Math.abs(r.aggregate.ndcg_cut_10 - (n1 + n2) / 2)).to.be.at.most(1e-12);
    expect(r.perQuery.recip_rank_10).to.deep.equal([1, 1 / 2, 0]);
    // BM25 order: q1 a, b, c → nDCG (2/lg3 + 1/2)/idcg; q2 d, e, f → (1 + 2/2)/idcg; MRR@10 (≥ 2): 1/2, 1/3.
    const b = r.baseline!;
    expect(Math.abs(b.perQuery.ndcg_cut_10[0] - (2 / lg(3) + 1 / 2) / idcg1)).to.be.at.most(1e-12);
    expect(Math.abs(b.perQuery.ndcg_cut_10[1] - 2 / idcg2)).to.be.at.most(1e-12);
    expect(b.perQuery.recip_rank_10).to.deep.equal([1 / 2, 1 / 3, 0]);
    const a = r.perQuery.ndcg_cut_10;
    const base = b.perQuery.ndcg_cut_10;
    expect(b.comparison.ndcg_cut_10).to.deep.equal({
      delta: (a[0] - base[0] + (a[1] - base[1]) + 0) / 3,
      tTestP: pairedTTest(a, base).p,
      randomizationP: randomizationTest(a, base, { trials: 10000 }).p,
    });
    expect(compareSystems(a, base, { trials: 500, seed: 3 }).randomizationP).to.equal(randomizationTest(a, base, { trials: 500, seed: 3 }).p);
  });

  it('measureScores of given scores follows the queries asked for', () => {
    const s = candidateScores(lists, (_h, i) => -i);
    const m = measureScores(qrels, s, ['P_1'], { queries: ['q2', 'q1'] });
    expect(m.perQuery.P_1).to.deep.equal([1, 0]);
    expect(m.queries).to.deep.equal(['q2', 'q1']);
  });
});

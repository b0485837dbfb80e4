// Measures against values computed by hand (|Δ| ≤ 1e-9) for the cases where trec_eval's conventions
// matter, then the staged runs against the published trec_eval numbers (4 decimals).
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { readBm25Json, readLlmRerankRun, readQrels, readTrecRun, candidatesToRun, type Qrels, type RunEntry } from '../../src/data/index.js';
import { evaluateRun, parseMeasures } from '../../src/evaluation/index.js';
import { InputError } from '../../src/utils/errors.js';
import { dataPath, hasData, tmpDir } from '../helpers.js';

const TOL = 1e-9;
const lg = Math.log2;

function qrelsOf(o: Record<string, Record<string, number>>): Qrels {
  return new Map(Object.entries(o).map(([q, m]) => [q, new Map(Object.entries(m))]));
}
/** A run from [docid, score] pairs per query; ranks are deliberately the reverse of score order (ignored). */
function runOf(o: Record<string, Array<[string, number]>>): Map<string, RunEntry[]> {
  return new Map(Object.entries(o).map(([q, ds]) => [q, ds.map(([docid, score], i) => ({ qid: q, docid, score, rank: ds.length - i, tag: 't' }))]));
}
function close(got: Record<string, number>, want: Record<string, number>): void {
  for (const [k, v] of Object.entries(want)) {
    expect(got[k], k).to.be.a('number');
    expect(Math.abs(got[k] - v), `${k}: got ${got[k]}, want ${v}`).to.be.at.most(TOL);
  }
}

describe('evaluation: hand-computed cases', () => {
  // q1: graded labels, an unjudged document at rank 1, a judged relevant document (d5) never retrieved.
  const qrels = qrelsOf({ q1: { d1: 3, d2: 0, d3: 1, d4: 2, d5: 1 }, q2: { x: 0, y: 0 }, q3: { r: 1 } });
  const run = runOf({ q1: [['dA', 10], ['d1', 9], ['d2', 8], ['d3', 7], ['d4', 6]], q2: [['x', 1], ['y', 0.5]], q9: [['r', 1]] });

  it('graded nDCG with an unjudged document and a relevant document missing from the run (ideal from all qrels)', () => {
    const r = evaluateRun(qrels, run, ['ndcg_cut_3', 'ndcg_cut_5', 'ndcg', 'ndcg_cut_100'], {}).perQuery.get('q1')!;
    const dcg5 = 3 / lg(3) + 1 / lg(5) + 2 / lg(6);
    const idcg = [3, 2, 1, 1].reduce((s, g, i) => s + g / lg(i + 2), 0);
    close(r, {
      ndcg_cut_3: 3 / lg(3) / (3 + 2 / lg(3) + 1 / 2),
      ndcg_cut_5: dcg5 / idcg,
      ndcg: dcg5 / idcg,
      ndcg_cut_100: dcg5 / idcg,
    });
  });

  it('exponential gain (2^rel − 1) as a named option', () => {
    const r = evaluateRun(qrels, run, ['ndcg_cut_5'], { gain: 'exponential' }).perQuery.get('q1')!;
    const dcg = 7 / lg(3) + 1 / lg(5) + 3 / lg(6);
    const idcg = 7 + 3 / lg(3) + 1 / 2 + 1 / lg(5);
    close(r, { ndcg_cut_5: dcg / idcg });
  });

  it('binary measures at relevance level 1 and 2 (nDCG unaffected by the level)', () => {
    const m = ['map', 'recip_rank', 'P_5', 'P_10', 'recall_5', 'recall_1', 'Rprec', 'success_1', 'success_5', 'num_rel', 'num_rel_ret', 'num_ret', 'ndcg_cut_5', 'map_cut_3'];
    const l1 = evaluateRun(qrels, run, m, {}).perQuery.get('q1')!;
    close(l1, { map: (1 / 2 + 2 / 4 + 3 / 5) / 4, recip_rank: 1 / 2, P_5: 3 / 5, P_10: 3 / 10, recall_5: 3 / 4, recall_1: 0, Rprec: 2 / 4, success_1: 0, success_5: 1, num_rel: 4, num_rel_ret: 3, num_ret: 5, map_cut_3: 1 / 2 / 4 });
    const l2 = evaluateRun(qrels, run, m, { relevanceLevel: 2 }).perQuery.get('q1')!;
    close(l2, { map: (1 / 2 + 2 / 5) / 2, recip_rank: 1 / 2, P_5: 2 / 5, recall_5: 1, Rprec: 1 / 2, num_rel: 2, num_rel_ret: 2, ndcg_cut_5: l1.ndcg_cut_5 });
  });

  it('a query with no relevant documents scores 0 and counts in the mean; run queries without qrels are ignored', () => {
    const r = evaluateRun(qrels, run, ['ndcg_cut_10', 'map', 'recip_rank', 'recall_10', 'P_1'], {});
    expect([...r.perQuery.keys()]).to.deep.equal(['q1', 'q2']);
    close(r.perQuery.get('q2')!, { ndcg_cut_10: 0, map: 0, recip_rank: 0, recall_10: 0, P_1: 0 });
    expect(r.numQueries).to.equal(2);
    const q1 = r.perQuery.get('q1')!;
    close(r.aggregate, { ndcg_cut_10: q1.ndcg_cut_10 / 2, map: q1.map / 2, recip_rank: 0.25, P_1: 0 });
  });

  it('complete mode (trec_eval -c) averages over every qrels query, a missing one counting 0', () => {
    const r = evaluateRun(qrels, run, ['recip_rank', 'num_rel', 'num_ret'], { complete: true });
    expect(r.numQueries).to.equal(3);
    // as trec_eval -q -c: only evaluated queries are listed, and the missing one adds nothing to sums
    expect([...r.perQuery.keys()]).to.deep.equal(['q1', 'q2']);
    close(r.aggregate, { recip_rank: 0.5 / 3, num_rel: 4 + 0, num_ret: 7 });
  });

  it('ties: score descending, then docid descending by bytes; the rank column is ignored (pytrec_eval #56, trec_eval #22)', () => {
    const q = qrelsOf({ q: { d3: 1 } });
    close(evaluateRun(q, runOf({ q: [['d1', 1], ['d2', 1], ['d3', 1]] }), ['map', 'ndcg'], {}).aggregate, { map: 1, ndcg: 1 });
    close(evaluateRun(q, runOf({ q: [['d5', 1], ['d4', 1], ['d3', 1]] }), ['map', 'ndcg'], {}).aggregate, { map: 1 / 3, ndcg: 0.5 });
    // strcmp: '9' > '10', 'a' > 'B'
    const q2 = qrelsOf({ q: { '10': 1 }, p: { B: 1 } });
    close(evaluateRun(q2, runOf({ q: [['10', 2], ['9', 2]], p: [['B', 0], ['a', 0]] }), ['recip_rank'], {}).perQuery.get('q')!, { recip_rank: 1 / 2 });
    close(evaluateRun(q2, runOf({ q: [['10', 2], ['9', 2]], p: [['B', 0], ['a', 0]] }), ['recip_rank'], {}).perQuery.get('p')!, { recip_rank: 1 / 2 });
    // a higher score wins over docid order; negative scores order correctly
    close(evaluateRun(q, runOf({ q: [['d9', -2], ['d3', -1.5]] }), ['recip_rank'], {}).aggregate, { recip_rank: 1 });
  });

  it('MRR@K is reciprocal rank on the run cut at K; cutoffRun (trec_eval -M) cuts every measure', () => {
    const docs: Array<[string, number]> = Array.from({ length: 12 }, (_, i) => [`d${String(i).padStart(2, '0')}`, 100 - i]);
    const q = qrelsOf({ q: { d10: 1, d11: 2 } });
    const r = evaluateRun(q, runOf({ q: docs }), ['recip_rank', 'recip_rank_10', 'recip_rank_11', 'recall_100'], {}).aggregate;
    close(r, { recip_rank: 1 / 11, recip_rank_10: 0, recip_rank_11: 1 / 11, recall_100: 1 });
    const cut = evaluateRun(q, runOf({ q: docs }), ['recip_rank', 'recall_100', 'num_ret'], { cutoffRun: 11 }).aggregate;
    close(cut, { recip_rank: 1 / 11, recall_100: 1 / 2, num_ret: 11 });
  });

  it('ndcg (whole run) differs from ndcg_cut_K (trec_eval #11)', () => {
    const q = qrelsOf({ q: { a: 1, b: 1 } });
    const r = evaluateRun(q, runOf({ q: [['a', 3], ['x', 2], ['b', 1]] }), ['ndcg', 'ndcg_cut_2'], {}).aggregate;
    close(r, { ndcg: (1 + 1 / 2) / (1 + 1 / lg(3)), ndcg_cut_2: 1 / (1 + 1 / lg(3)) });
  });

  it('negative qrels grades add no gain and are not relevant', () => {
    const q = qrelsOf({ q: { a: -1, b: 1 } });
    close(evaluateRun(q, runOf({ q: [['a', 2], ['b', 1]] }), ['ndcg_cut_10', 'recip_rank', 'num_rel'], {}).aggregate, { ndcg_cut_10: 1 / lg(3), recip_rank: 1 / 2, num_rel: 1 });
  });

  it('parses trec_eval measure names, including the -m form ndcg_cut.5,10', () => {
    expect(parseMeasures(['ndcg_cut.5,10', 'P_10', 'P.10', 'recip_rank', 'recip_rank_10', 'map', 'recall_100']).map((m) => m.name)).to.deep.equal([
      'ndcg_cut_5',
      'ndcg_cut_10',
      'P_10',
      'recip_rank',
      'recip_rank_10',
      'map',
      'recall_100',
    ]);
    expect(() => parseMeasures(['ndcg@10'])).to.throw(InputError, /unknown measure 'ndcg@10'/);
    expect(() => parseMeasures(['P_0'])).to.throw(InputError, /positive/);
  });

  it('rejects duplicate documents in a run (as trec_eval does) and bad options', () => {
    const q = qrelsOf({ q: { a: 1 } });
    const dup = new Map([['q', [{ qid: 'q', docid: 'a', rank: 1, score: 1, tag: 't' }, { qid: 'q', docid: 'a', rank: 2, score: 0, tag: 't' }]]]);
    expect(() => evaluateRun(q, dup, ['map'])).to.throw(InputError, /twice/);
    expect(() => evaluateRun(q, runOf({ q: [['a', 1]] }), ['map'], { cutoffRun: 0 })).to.throw(InputError);
    expect(() => evaluateRun(q, runOf({ q: [['a', 1]] }), [])).to.throw(InputError);
  });

  it('an empty intersection gives 0, not NaN', () => {
    const r = evaluateRun(qrelsOf({ q: { a: 1 } }), runOf({ other: [['a', 1]] }), ['ndcg_cut_10'], {});
    expect(r.numQueries).to.equal(0);
    expect(r.aggregate.ndcg_cut_10).to.equal(0);
  });
});

describe('evaluation: the staged runs reproduce trec_eval numbers', function () {
  const D = (...p: string[]) => dataPath(...p);

  it('BM25 nDCG@10 = 0.5058 (DL19) and 0.4796 (DL20), from the .run and from the JSON', async function () {
    if (!hasData('trec-dl-2019-passage') || !hasData('trec-dl-2020-passage')) this.skip();
    for (const [y, want] of [
      ['2019', 0.5058],
      ['2020', 0.4796],
    ] as const) {
      const qrels = await readQrels(D(`trec-dl-${y}-passage`, 'qrels.txt'));
      const run = await readTrecRun(D(`trec-dl-${y}-passage`, 'bm25-top100.run'));
      const json = candidatesToRun(await readBm25Json(D(`trec-dl-${y}-passage`, 'bm25-top100.json')));
      for (const r of [run, json]) {
        const v = evaluateRun(qrels, r, ['ndcg_cut_10']).aggregate.ndcg_cut_10;
        expect(v.toFixed(4), y).to.equal(want.toFixed(4));
      }
    }
  });

  it("the LLM teacher runs' nDCG@10 listed in the llm-rerank-runs-dl19 README (ordered by the rank column)", async function () {
    if (!hasData('llm-rerank-runs-dl19')) this.skip();
    const qrels = await readQrels(D('trec-dl-2019-passage', 'qrels.txt'));
    const want: Record<string, string> = {
      'run.setwise.heapsort.openai_4o_mini.n3.txt': '0.7545',
      'run.batchwise.top.b10.noCOT.txt': '0.7097',
      'run.batchwise.top.b10.txt': '0.7066',
      'run.batchwise.top.b10.noCOT.gpt-3.5-turbo.txt': '0.5430',
      'run.batchwise.top.b10.gpt-3.5-turbo.txt': '0.3434',
    };
    for (const [f, v] of Object.entries(want)) {
      const run = await readLlmRerankRun(D('llm-rerank-runs-dl19', f));
      expect(evaluateRun(qrels, run, ['ndcg_cut_10']).aggregate.ndcg_cut_10.toFixed(4), f).to.equal(v);
    }
  });
});

// A second, independent implementation when the peer venv has pytrec_eval (trec_eval 9 compiled in):
// every measure, per query, on the staged runs. Skipped when it is not installed (it is not by default).
describe('evaluation: agreement with pytrec_eval (when installed in the peer venv)', function () {
  const D = (...p: string[]) => dataPath(...p);
  const py = path.resolve(process.env.RANKDISTILL_PEER_VENV ?? path.join(process.cwd(), '.cache', 'peer'), 'bin', 'python');
  const available = () => fs.existsSync(py) && spawnSync(py, ['-c', 'import pytrec_eval'], { encoding: 'utf8' }).status === 0;

  it('agrees to 1e-12 per query on DL19/DL20 BM25 and the LLM runs, at relevance levels 1 and 2', async function () {
    if (!available() || !hasData('trec-dl-2019-passage') || !hasData('llm-rerank-runs-dl19')) this.skip();
    const dir = tmpDir();
    const code = `
import json, sys, pytrec_eval
qrels = json.load(open(sys.argv[1])); run = json.load(open(sys.argv[2])); level = int(sys.argv[3])
ev = pytrec_eval.RelevanceEvaluator(qrels, {'ndcg_cut.5,10,100', 'ndcg', 'map', 'recip_rank', 'P.5,10', 'recall.10,100', 'Rprec'}, relevance_level=level)
print(json.dumps(ev.evaluate(run)))`;
    const cases: Array<[string, string, boolean]> = [
      ['trec-dl-2019-passage/qrels.txt', 'trec-dl-2019-passage/bm25-top100.run', false],
      ['trec-dl-2020-passage/qrels.txt', 'trec-dl-2020-passage/bm25-top100.run', false],
      ['trec-dl-2019-passage/qrels.txt', 'llm-rerank-runs-dl19/run.batchwise.top.b10.txt', false],
      ['trec-dl-2019-passage/qrels.txt', 'llm-rerank-runs-dl19/run.setwise.heapsort.openai_4o_mini.n3.txt', true],
    ];
    const measures = ['ndcg_cut_5', 'ndcg_cut_10', 'ndcg_cut_100', 'ndcg', 'map', 'recip_rank', 'P_5', 'P_10', 'recall_10', 'recall_100', 'Rprec'];
    for (const [qf, rf, byRank] of cases) {
      const qrels = await readQrels(D(qf));
      const run = byRank ? await readLlmRerankRun(D(rf)) : await readTrecRun(D(rf));
      const qj = path.join(dir, 'q.json');
      const rj = path.join(dir, 'r.json');
      fs.writeFileSync(qj, JSON.stringify(Object.fromEntries([...qrels].map(([q, m]) => [q, Object.fromEntries(m)]))));
      fs.writeFileSync(rj, JSON.stringify(Object.fromEntries([...run].map(([q, es]) => [q, Object.fromEntries(es.map((e) => [e.docid, e.score]))]))));
      for (const level of [1, 2]) {
        const r = spawnSync(py, ['-c', code, qj, rj, String(level)], { encoding: 'utf8' });
        expect(r.status, r.stderr).to.equal(0);
        const ref = JSON.parse(r.stdout) as Record<string, Record<string, number>>;
        const ours = evaluateRun(qrels, run, measures, { relevanceLevel: level }).perQuery;
        expect([...ours.keys()].sort()).to.deep.equal(Object.keys(ref).sort());
        for (const [qid, vals] of ours) {
          for (const m of measures) expect(Math.abs(vals[m] - ref[qid][m]), `${rf} ${qid} ${m} level ${level}`).to.be.at.most(1e-12);
        }
      }
    }
  });
});

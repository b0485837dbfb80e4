// The reranking harness with deterministic scorers: what is reranked (trec_eval's top-k), the run it
// writes, batching, errors, and resuming after a kill (a partial output file).
import { expect } from 'chai';
import fs from 'node:fs';
import path from 'node:path';
import { readTrecRun, type RunEntry } from '../../src/data/index.js';
import { rerankRun, type PairScorer } from '../../src/reranking/index.js';
import { InputError } from '../../src/utils/errors.js';
import { tmpDir } from '../helpers.js';

const dir = tmpDir('rankdistill-rerank-');

/** q1..q4, 6 documents each; the rank column deliberately disagrees with the scores. */
function makeRun(): Map<string, RunEntry[]> {
  const run = new Map<string, RunEntry[]>();
  for (let q = 1; q <= 4; q++) {
    const qid = `q${q}`;
    run.set(
      qid,
      ['a', 'b', 'c', 'd', 'e', 'f'].map((d, i) => ({ qid, docid: `${qid}${d}`, rank: 6 - i, score: i < 2 ? 5 : 10 - i, tag: 'bm25' })),
    );
  }
  return run;
}
const queries = new Map([1, 2, 3, 4].map((q) => [`q${q}`, `query ${q}`]));
const docText = (docid: string) => `text of ${docid} ${'x'.repeat(docid.charCodeAt(2) - 96)}`;

/** Score = length of the document text; records every call. */
function lengthScorer(calls: Array<Array<[string, string]>>): PairScorer {
  return async (pairs) => {
    calls.push(pairs);
    return pairs.map(([, d]) => d.length);
  };
}

describe('reranking: harness', () => {
  it('reranks the trec_eval top-k (score desc, docid desc; rank column ignored) and writes a TREC run', async () => {
    const out = path.join(dir, 'a.run');
    const calls: Array<Array<[string, string]>> = [];
    const res = await rerankRun({ run: makeRun(), topK: 3, scorer: lengthScorer(calls), getQuery: (q) => queries.get(q), getDoc: docText, out, tag: 'tiny' });
    // top-3 by score: c (8), d (7), e (6); a and b (5, tied) are out
    expect(calls[0].map(([, d]) => d)).to.deep.equal([docText('q1c'), docText('q1d'), docText('q1e')]);
    expect(calls[0][0][0]).to.equal('query 1');
    // new order: longer text first: e, d, c
    expect(res.run.get('q1')).to.deep.equal([
      { qid: 'q1', docid: 'q1e', score: docText('q1e').length, rank: 1, tag: 'tiny' },
      { qid: 'q1', docid: 'q1d', score: docText('q1d').length, rank: 2, tag: 'tiny' },
      { qid: 'q1', docid: 'q1c', score: docText('q1c').length, rank: 3, tag: 'tiny' },
    ]);
    expect(res).to.include({ resumedQueries: 0, scoredQueries: 4, scoredPairs: 12 });
    expect(await readTrecRun(out)).to.deep.equal(res.run);
  });

  it('breaks ties in the new scores by docid descending, and keeps ties when k reaches into them', async () => {
    const res = await rerankRun({ run: makeRun(), topK: 6, scorer: async (p) => p.map(() => 1), getQuery: (q) => queries.get(q), getDoc: docText });
    expect(res.run.get('q2')!.map((e) => e.docid)).to.deep.equal(['q2f', 'q2e', 'q2d', 'q2c', 'q2b', 'q2a']);
    // top-5 of 6 with a and b tied at 5: b wins the tie (docid descending)
    const calls: Array<Array<[string, string]>> = [];
    await rerankRun({ run: makeRun(), topK: 5, scorer: lengthScorer(calls), getQuery: (q) => queries.get(q), getDoc: docText });
    expect(calls[0].map(([, d]) => d.split(' ')[2])).to.deep.equal(['q1c', 'q1d', 'q1e', 'q1f', 'q1b']);
  });

  it('calls the scorer with at most batchSize pairs', async () => {
    const calls: Array<Array<[string, string]>> = [];
    await rerankRun({ run: makeRun(), topK: 5, batchSize: 2, scorer: lengthScorer(calls), getQuery: (q) => queries.get(q), getDoc: docText });
    expect(calls.map((c) => c.length)).to.deep.equal([2, 2, 1, 2, 2, 1, 2, 2, 1, 2, 2, 1]);
  });

  it('rejects missing texts, wrong score counts, non-finite scores and a bad top-k', async () => {
    const base = { run: makeRun(), topK: 2, getQuery: (q: string) => queries.get(q), getDoc: docText, scorer: async (p: Array<[string, string]>) => p.map(() => 0) };
    const fails = async (o: Partial<Parameters<typeof rerankRun>[0]>, what: RegExp, cls: new (...a: never[]) => Error = Error) => {
      let err: unknown;
      try {
        await rerankRun({ ...base, ...o });
      } catch (e) {
        err = e;
      }
      expect(err).to.be.instanceOf(cls);
      expect((err as Error).message).to.match(what);
    };
    await fails({ getQuery: (q) => (q === 'q3' ? undefined : 'x') }, /no text for query q3/, InputError);
    await fails({ getDoc: (d) => (d === 'q2d' ? undefined : 'x') }, /no text for document q2d \(query q2\)/, InputError);
    await fails({ scorer: async (p) => p.slice(1).map(() => 0) }, /returned 1 scores for 2 pairs/);
    await fails({ scorer: async (p) => p.map(() => NaN) }, /returned NaN/);
    await fails({ topK: 0 }, /topK/, InputError);
  });
});

describe('reranking: resume after a kill', () => {
  const opts = (out: string, scorer: PairScorer, resume = true) => ({ run: makeRun(), topK: 4, scorer, getQuery: (q: string) => queries.get(q), getDoc: docText, out, resume });
  let full = '';
  before(async () => {
    const out = path.join(dir, 'full.run');
    await rerankRun(opts(out, lengthScorer([]), false));
    full = fs.readFileSync(out, 'utf8');
  });

  it('a crash mid-run leaves whole queries; resuming scores only the rest and gives the same file', async () => {
    const out = path.join(dir, 'crash.run');
    let n = 0;
    const crashing: PairScorer = async (p) => {
      if (++n === 3) throw new Error('killed');
      return p.map(([, d]) => d.length);
    };
    let err: unknown;
    try {
      await rerankRun(opts(out, crashing, false));
    } catch (e) {
      err = e;
    }
    expect((err as Error).message).to.equal('killed');
    expect(fs.readFileSync(out, 'utf8').trim().split('\n')).to.have.length(8);
    const calls: Array<Array<[string, string]>> = [];
    const res = await rerankRun(opts(out, lengthScorer(calls)));
    expect(res).to.include({ resumedQueries: 2, scoredQueries: 2 });
    expect(calls.map((c) => c[0][0])).to.deep.equal(['query 3', 'query 4']);
    expect(fs.readFileSync(out, 'utf8')).to.equal(full);
  });

  it('a write cut off mid-line: the partial query is dropped and redone', async () => {
    const out = path.join(dir, 'partial.run');
    const lines = full.split('\n');
    // q1 complete, q2 with 2 of 4 lines and half of the third
    fs.writeFileSync(out, lines.slice(0, 6).join('\n') + '\n' + lines[6].slice(0, 9));
    const calls: Array<Array<[string, string]>> = [];
    const res = await rerankRun(opts(out, lengthScorer(calls)));
    expect(res).to.include({ resumedQueries: 1, scoredQueries: 3 });
    expect(calls.map((c) => c[0][0])).to.deep.equal(['query 2', 'query 3', 'query 4']);
    expect(fs.readFileSync(out, 'utf8')).to.equal(full);
    // a complete file: nothing left to score
    const again: Array<Array<[string, string]>> = [];
    expect(await rerankRun(opts(out, lengthScorer(again)))).to.include({ resumedQueries: 4, scoredQueries: 0 });
    expect(again).to.have.length(0);
    expect(fs.readFileSync(out, 'utf8')).to.equal(full);
  });

  it('without resume the output is overwritten; an output of another run is refused', async () => {
    const out = path.join(dir, 'other.run');
    fs.writeFileSync(out, 'zz Q0 d 1 1 t\n');
    let err: unknown;
    try {
      await rerankRun(opts(out, lengthScorer([])));
    } catch (e) {
      err = e;
    }
    expect(err).to.be.instanceOf(InputError);
    expect((err as InputError).message).to.contain(out).and.to.contain('query zz is not in the run');
    await rerankRun(opts(out, lengthScorer([]), false));
    expect(fs.readFileSync(out, 'utf8')).to.equal(full);
  });
});

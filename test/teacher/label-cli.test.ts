// `rankdistill label` on small files: fused TREC runs + corpus, in-process BM25 candidates, the
// RRADistill mode with a failure report, resuming after a cut last line, and argument errors.
import { expect } from 'chai';
import fs from 'node:fs';
import path from 'node:path';
import { run as label } from '../../src/cli/commands/label.js';
import { tmpDir } from '../helpers.js';
import { startFakeLlm, answer, idealOrder, type FakeServer } from './fake-llm.js';

const relOf = (t: string) => Number(/rel(\d+)/.exec(t)?.[1] ?? 0);
const read = (f: string) => fs.readFileSync(f, 'utf8').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l));

describe('cli/label', () => {
  let server: FakeServer;
  let dir: string;
  const quietLog = console.log;
  beforeEach(async () => {
    dir = tmpDir();
    // Ranks by the relN marker; query "broken" always gets prose.
    server = await startFakeLlm((c) => (c.query === 'broken' ? { content: 'no' } : { content: answer(idealOrder(c.passages, relOf)) }));
    fs.writeFileSync(path.join(dir, 'corpus.tsv'), Array.from({ length: 8 }, (_, i) => `d${i}\tpassage about cats rel${i} ${'cat '.repeat(i % 3)}`).join('\n') + '\n');
    fs.writeFileSync(path.join(dir, 'queries.tsv'), 'q1\tcats\nq2\tbroken\n');
    fs.writeFileSync(path.join(dir, 'a.run'), ['q1 Q0 d1 1 3 a', 'q1 Q0 d2 2 2 a', 'q1 Q0 d3 3 1 a', 'q2 Q0 d1 1 1 a'].join('\n') + '\n');
    fs.writeFileSync(path.join(dir, 'b.run'), ['q1 Q0 d7 1 9 b', 'q1 Q0 d2 2 8 b', 'q2 Q0 d0 1 1 b'].join('\n') + '\n');
    console.log = () => {};
  });
  afterEach(async () => {
    console.log = quietLog;
    await server.close();
  });
  const common = () => ['--llm-url', server.url, '--model', 'fake', '--no-api-key', '--quiet', '--corpus', path.join(dir, 'corpus.tsv'), '--queries', path.join(dir, 'queries.tsv')];

  it('fuses runs (RRF), ranks, writes labels and a failure report', async () => {
    const out = path.join(dir, 'labels.jsonl');
    const runs = ['--run', path.join(dir, 'a.run'), '--run', path.join(dir, 'b.run')];
    // q2 fails: exit 3 (partly done).
    expect(await label([...common(), ...runs, '--out', out])).to.equal(3);
    const [l] = read(out);
    // RRF: d1 1/61, d7 1/61, d2 1/62+1/62, d3 1/63 → d2 d1 d7 d3 (d1 before d7: first seen); the LLM sorts by rel.
    expect(server.calls.find((c) => c.query === 'cats')!.passages.map(relOf)).to.deep.equal([2, 1, 7, 3]);
    expect(l).to.deep.include({ qid: 'q1', query: 'cats', mode: 'rankgpt', model: 'fake', ranking: ['d7', 'd3', 'd2', 'd1'], hardNegatives: [] });
    expect(l.texts.d7).to.match(/rel7/);
    const [f] = read(`${out}.failures.jsonl`);
    expect(f.qid).to.equal('q2');
    expect(f.failures.map((x: { kind: string }) => x.kind)).to.deep.equal(['unparseable']);
    expect(read(`${out}.calls.jsonl`)).to.have.length(server.calls.length);
  });

  it('retrieves candidates with in-process BM25 when given only a corpus; RRADistill hard negatives', async () => {
    const out = path.join(dir, 'rra.jsonl');
    // The teacher names only the two best of what it is sent.
    await server.close();
    server = await startFakeLlm((c) => ({ content: answer(idealOrder(c.passages, relOf).slice(0, 2)) }));
    // q2 ("broken") matches no passage: skipped, neither a label nor a failure.
    expect(await label([...common(), '--mode', 'rradistill', '--top-k', '2', '--bottom-k', '1', '--pre-ranker', 'bm25', '--out', out])).to.equal(0);
    const recs = read(out);
    expect(recs.map((r) => r.qid)).to.deep.equal(['q1']);
    // "cats" matches all 8 passages; BM25 top 2 are the ones with the most "cat": d2 d5 (tf 3), bottom 1 a tf-1 passage.
    expect(server.calls[0].passages).to.have.length(3);
    expect(recs[0].ranking).to.have.length(2);
    expect(recs[0].hardNegatives).to.have.length(1);
    expect(Object.keys(recs[0].texts)).to.have.length(3);
  });

  it('resumes after a cut last line, re-labelling that query from the cache', async () => {
    const out = path.join(dir, 'labels.jsonl');
    const args = [...common(), '--run', path.join(dir, 'a.run'), '--out', out];
    await label(args);
    const n = server.calls.length;
    const text = fs.readFileSync(out, 'utf8');
    fs.writeFileSync(out, text.slice(0, text.length - 10));
    await label(args);
    expect(server.calls.length).to.equal(n);
    expect(read(out).map((r) => r.qid)).to.deep.equal(['q1']);
    fs.appendFileSync(out, 'garbage\n{"qid": "q9"}\n');
    const err = await label(args).catch((e: Error) => e);
    expect((err as Error).message).to.match(/labels\.jsonl:2:1: not a JSON record; fix or remove the line to resume: invalid JSON: expected a value, found 'g'/);
  });

  it('names the option at fault', async () => {
    const out = path.join(dir, 'x.jsonl');
    const fail = (a: string[]) => label(a).then(() => 'no error', (e: Error) => e.message);
    expect(await fail(['--model', 'm', '--out', out])).to.match(/--llm-url is required/);
    expect(await fail([...common(), '--out', out, '--mode', 'pairwise'])).to.match(/field '--mode'.*rankgpt or rradistill/);
    expect(await fail([...common(), '--out', out, '--window', '10', '--step', '20'])).to.match(/field '--step'/);
    expect(await fail([...common(), '--out', out, '--window', 'x'])).to.match(/field '--window'/);
    expect(await fail(['--llm-url', 'u', '--model', 'm', '--no-api-key', '--out', out, '--run', path.join(dir, 'a.run')])).to.match(/--queries is required/);
    fs.writeFileSync(path.join(dir, 'c.run'), 'q1 Q0 nope 1 1 c\n');
    expect(await fail([...common(), '--run', path.join(dir, 'c.run'), '--out', out])).to.match(/document nope \(query q1\) is not in the corpus/);
  });
});

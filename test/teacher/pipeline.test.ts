// The labelling pipeline end to end against a real local chat-completions server that answers with
// permutations derived from the DL19 qrels, and on purpose with faults: 429 + Retry-After, 500s,
// hangs past the timeout, dropped connections, garbled bodies, prose, duplicates, out-of-range and
// missing ids. Then the CLI is killed mid-run and restarted: no cached request is asked again.
import { expect } from 'chai';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { readBm25Json, readQrels, type CandidateList, type Qrels } from '../../src/data/index.js';
import { LlmClient, canonicalJson, labelQueries, sha256, truncateWords, summarizeLabels, isCleanLabel, type QueryCandidates, type TeacherLabel } from '../../src/teacher/index.js';
import { listsFromTeacherLabels } from '../../src/data/lists.js';
import { run as labelCli } from '../../src/cli/commands/label.js';
import { dataPath, hasData, tmpDir } from '../helpers.js';
import { ndcgAt, mean } from '../retrieval/ndcg.js';
import { startFakeLlm, answer, idealOrder, type FakeServer, type Reply } from './fake-llm.js';

const DL19 = 'trec-dl-2019-passage';
const describeData = hasData(DL19, 'bm25-top100.json') ? describe : describe.skip;

describeData('teacher/pipeline on DL19 with a qrels-driven fake LLM', function () {
  this.timeout(120_000);
  let lists: CandidateList[];
  let qrels: Qrels;
  /** Truncated passage text → grade, per query text: what the fake LLM "knows". */
  const grades = new Map<string, Map<string, number>>();
  let server: FakeServer | undefined;

  before(async () => {
    lists = await readBm25Json(dataPath(DL19, 'bm25-top100.json'));
    qrels = await readQrels(dataPath(DL19, 'qrels.txt'));
    for (const l of lists) grades.set(l.query, new Map(l.hits.map((h) => [truncateWords(h.text), qrels.get(l.qid)?.get(h.docid) ?? 0])));
  });
  afterEach(async () => {
    await server?.close();
    server = undefined;
  });

  const ideal = (c: { query: string; passages: string[] }) => idealOrder(c.passages, (t) => grades.get(c.query)!.get(t) ?? -1);
  const toInput = (l: CandidateList, depth = 100): QueryCandidates => ({ qid: l.qid, query: l.query, candidates: l.hits.slice(0, depth).map((h) => ({ docid: h.docid, text: h.text })) });
  const mk = (s: FakeServer, extra = {}) => new LlmClient({ baseUrl: s.url, model: 'fake-qrels', backoffMs: 5, maxBackoffMs: 20, timeoutMs: 1500, maxRetries: 4, concurrency: 8, ...extra });

  it('window 20 / step 10 over 100 candidates: 9 calls per query and the ideal top 10', async () => {
    server = await startFakeLlm((c) => ({ content: answer(ideal(c)) }));
    // A long timeout: on a loaded machine a 400 ms limit would time out (and retry) a few calls.
    const labels = await labelQueries(mk(server, { timeoutMs: 30_000 }), lists.map((l) => toInput(l)), { mode: 'rankgpt', window: 20, step: 10, queryConcurrency: 8 });
    expect(server.calls).to.have.length(9 * lists.length);
    expect(server.calls.every((c) => c.passages.length === 20)).to.equal(true);
    const got: number[] = [];
    const best: number[] = [];
    for (const [i, l] of labels.entries()) {
      const judged = qrels.get(l.qid)!;
      expect(l.calls).to.equal(9);
      expect(l.ranking).to.have.length(100);
      expect(new Set(l.ranking).size).to.equal(100);
      // The best ten by grade, in grade order (the oracle reranking of these candidates).
      const oracle = [...lists[i].hits].map((h) => judged.get(h.docid) ?? 0).sort((a, b) => b - a).slice(0, 10);
      expect(l.ranking.slice(0, 10).map((d) => judged.get(d) ?? 0), l.qid).to.deep.equal(oracle);
      got.push(ndcgAt(l.ranking, judged));
      best.push(ndcgAt([...lists[i].hits].sort((a, b) => (judged.get(b.docid) ?? 0) - (judged.get(a.docid) ?? 0)).map((h) => h.docid), judged));
    }
    expect(mean(got)).to.be.closeTo(mean(best), 1e-12);
    // The records feed the trainer's reader.
    const tl = listsFromTeacherLabels(labels);
    expect(tl[0].docs[0]).to.equal(labels[0].texts[labels[0].ranking[0]]);
    expect(tl[0].labels.slice(0, 3)).to.deep.equal([1, 1 / 2, 1 / 3]);
    console.log(`      DL19 ideal-order teacher over BM25 top-100: nDCG@10 ${mean(got).toFixed(4)} (oracle ${mean(best).toFixed(4)}; BM25 0.5058)`);
  });

  // Faults by query (index into the first eight DL19 queries); `repeat` counts earlier identical requests.
  const faults: Record<number, (repeat: number, reasons: boolean) => Reply | undefined> = {
    0: (r) => (r === 0 ? { status: 429, headers: { 'retry-after': '1' } } : undefined),
    1: (r) => (r < 2 ? { status: 500 } : undefined),
    2: (r) => (r === 0 ? { hang: true } : undefined),
    3: (r) => (r === 0 ? { drop: true } : undefined),
    4: (r) => (r === 0 ? { raw: '{"choices":[{"message":' } : undefined),
    5: (r) => (r === 0 ? { content: 'I am sorry, but I cannot rank these passages.' } : undefined),
    6: () => ({ content: 'The ranking is not possible.' }),
  };

  function faultyServer(queries: string[], damage: (ids: number[]) => string) {
    return startFakeLlm((c) => {
      const q = queries.indexOf(c.query);
      const f = c.reasons ? undefined : faults[q]?.(c.repeat, c.reasons);
      if (f) return f;
      if (c.reasons) return { content: '{}' };
      const ids = ideal(c);
      return { content: q === 7 ? damage(ids) : answer(ids) };
    });
  }

  it('RankGPT mode: transient faults end in correct labels, bad answers in a failure report', async () => {
    const inputs = lists.slice(0, 8).map((l) => toInput(l, 30));
    // Query 7: its ranking repeated, with an out-of-range id, and the last third left out.
    const damage = (ids: number[]) => `${answer(ids.slice(0, 2))} > [1] > [${ids.length + 5}] > ${answer(ids.slice(2, 14))}`;
    server = await faultyServer(inputs.map((q) => q.query), damage);
    const labels = await labelQueries(mk(server), inputs, { mode: 'rankgpt', window: 20, step: 10 });
    const perQuery = inputs.map((q) => server!.calls.filter((c) => c.query === q.query).length);
    // 2 windows each; first request of every window faulted once (twice for 500s); query 6 always
    // prose: its first window fails (asked twice) and the second is never sent.
    expect(perQuery).to.deep.equal([4, 6, 4, 4, 4, 4, 2, 2]);
    for (const i of [0, 1, 2, 3, 4, 5]) {
      const l = labels[i];
      expect(l.failures, `query ${i}`).to.equal(undefined);
      const judged = qrels.get(l.qid)!;
      const oracle = inputs[i].candidates.map((c) => judged.get(c.docid) ?? 0).sort((a, b) => b - a).slice(0, 10);
      expect(l.ranking.slice(0, 10).map((d) => judged.get(d) ?? 0), `query ${i}`).to.deep.equal(oracle);
    }
    // Query 5: prose first, asked again (one extra request per window), then fine.
    expect(labels[5].calls).to.equal(4);
    // Query 6: its first window twice unparseable → a failure with the answers, never a silent input
    // order; the window above it is not sent (the query is retried as a whole by the next run).
    expect(isCleanLabel(labels[6])).to.equal(false);
    expect(labels[6].failures!.map((f) => [f.kind, f.window])).to.deep.equal([['unparseable', [10, 30]]]);
    expect(labels[6].failures![0].answers).to.deep.equal(['The ranking is not possible.', 'The ranking is not possible.']);
    // Query 7: parsed despite the damage; each window reports 1 duplicate, 1 out of range, 6 missing.
    expect(labels[7].failures).to.equal(undefined);
    expect(labels[7].parse).to.deep.equal({ duplicates: 2, outOfRange: 2, missing: 12 });
    expect(new Set(labels[7].ranking).size).to.equal(30);
    const sum = summarizeLabels(labels);
    expect(sum).to.deep.include({ queries: 8, clean: 7, failed: 1, failures: 1 });
  });

  it('RRADistill mode: left-out ids become hard negatives; failures reported', async () => {
    const inputs = lists.slice(0, 8).map((l) => toInput(l));
    // Query 7: the teacher names only its top 12 of the 20.
    server = await faultyServer(inputs.map((q) => q.query), (ids) => answer(ids.slice(0, 12)));
    const labels = await labelQueries(mk(server), inputs, { mode: 'rradistill', topK: 10, bottomK: 10, reasons: true });
    for (const [i, l] of labels.entries()) {
      if (i === 6) continue;
      expect(l.failures, `query ${i}`).to.equal(undefined);
      const sent = [...inputs[i].candidates.slice(0, 10), ...inputs[i].candidates.slice(-10)].map((c) => c.docid);
      expect(new Set([...l.ranking, ...l.hardNegatives])).to.deep.equal(new Set(sent));
      expect(Object.keys(l.texts).sort()).to.deep.equal([...sent].sort());
      expect(l.hardNegatives, `query ${i}`).to.have.length(i === 7 ? 8 : 0);
      expect(l.reasons).to.equal('{}');
    }
    const judged = qrels.get(labels[7].qid)!;
    // Hard negatives are the worst-graded eight of the twenty sent.
    const sentGrades = [...inputs[7].candidates.slice(0, 10), ...inputs[7].candidates.slice(-10)].map((c) => judged.get(c.docid) ?? 0).sort((a, b) => b - a);
    expect(labels[7].ranking.map((d) => judged.get(d) ?? 0)).to.deep.equal(sentGrades.slice(0, 12));
    expect(labels[6].ranking).to.deep.equal([]);
    expect(labels[6].failures!.map((f) => f.kind)).to.deep.equal(['unparseable']);
    const sum = summarizeLabels(labels);
    expect(sum).to.deep.include({ clean: 7, failed: 1, hardNegatives: 8 });
    // Trainer lists: ranked docs get 1/(r+1), hard negatives 0.
    const tl = listsFromTeacherLabels([labels[7]]);
    expect(tl[0].labels.slice(-8)).to.deep.equal(new Array(8).fill(0));
  });

  it('CLI: killed mid-run and restarted, asks no cached request again and ends with the same labels', async () => {
    const dir = tmpDir();
    server = await startFakeLlm((c) => ({ content: answer(ideal(c)), delayMs: 30 }));
    const args = (out: string) => ['label', '--llm-url', server!.url, '--model', 'fake-qrels', '--no-api-key', '--bm25-json', dataPath(DL19, 'bm25-top100.json'), '--limit', '8', '--depth', '40', '--concurrency', '2', '--out', out, '--quiet'];
    const out = path.join(dir, 'labels.jsonl');
    const main = path.resolve('src/cli/main.ts');
    const child = spawn(process.execPath, ['--import', 'tsx', main, ...args(out)], { stdio: 'ignore' });
    await new Promise<void>((resolve, reject) => {
      const t = setInterval(() => {
        if (server!.calls.length >= 9) {
          clearInterval(t);
          child.kill('SIGKILL');
          resolve();
        }
      }, 5);
      child.on('exit', () => (clearInterval(t), reject(new Error('the labelling run ended before it was killed'))));
    });
    await new Promise((r) => child.once('exit', r));
    const cachedKeys = new Set(
      fs.readFileSync(`${out}.cache.jsonl`, 'utf8').split('\n').flatMap((l) => {
        try {
          return [JSON.parse(l).key as string];
        } catch {
          return [];
        }
      }),
    );
    const callsBefore = server.calls.length;
    expect(cachedKeys.size).to.be.greaterThan(0);
    const code = await labelCli(args(out).slice(1));
    expect(code).to.equal(0);
    const rerun = server.calls.slice(callsBefore);
    const repeated = rerun.filter((c) => cachedKeys.has(sha256(canonicalJson(c.body))));
    expect(repeated, 'cached requests asked again').to.have.length(0);
    // 8 queries × 3 windows (40 candidates), every distinct prompt answered once from a cache entry.
    const finalCache = fs.readFileSync(`${out}.cache.jsonl`, 'utf8').trim().split('\n');
    expect(finalCache.filter((l) => l.startsWith('{') && l.endsWith('}'))).to.have.length(24);
    const labels = fs.readFileSync(out, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as TeacherLabel);
    expect(labels.map((l) => l.qid).sort()).to.deep.equal(lists.slice(0, 8).map((l) => l.qid).sort());
    // Same records as an uninterrupted run (against a fresh cache).
    const clean = path.join(dir, 'clean.jsonl');
    expect(await labelCli(args(clean).slice(1))).to.equal(0);
    const byQid = (f: string) => Object.fromEntries(fs.readFileSync(f, 'utf8').trim().split('\n').map((l) => [JSON.parse(l).qid, JSON.parse(l)]));
    expect(byQid(out)).to.deep.equal(byQid(clean));
    // A third run finds everything done: no request at all.
    const n = server.calls.length;
    expect(await labelCli(args(out).slice(1))).to.equal(0);
    expect(server.calls.length).to.equal(n);
  });
});

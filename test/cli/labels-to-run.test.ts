// `rankdistill labels-to-run` and `label --trec-out`: teacher labels → a TREC run whose rank column,
// score order and trec_eval's order all give the teacher's order (ranked documents, then hard negatives).
import { expect } from 'chai';
import fs from 'node:fs';
import path from 'node:path';
import { readLlmRerankRun, readTrecRun, trecOrder } from '../../src/data/index.js';
import { labelsToRun, type TeacherLabel } from '../../src/teacher/index.js';
import { tmpDir } from '../helpers.js';
import { answer, idealOrder, startFakeLlm } from '../teacher/fake-llm.js';
import { runCli } from './run-cli.js';

const label = (qid: string, ranking: string[], hardNegatives: string[] = [], extra: Partial<TeacherLabel> = {}): TeacherLabel => ({
  qid, query: `query ${qid}`, mode: 'rradistill', model: 'm', ranking, hardNegatives, texts: Object.fromEntries([...ranking, ...hardNegatives].map((d) => [d, d])), calls: 1, parse: { duplicates: 0, outOfRange: 0, missing: 0 }, ...extra,
});

describe('cli: labels-to-run', function () {
  this.timeout(60000);

  it('ranked documents first, hard negatives below; unique ranks, scores falling with rank; failed or empty labels skipped', () => {
    const run = labelsToRun([
      label('q1', ['d3', 'd1', 'd2'], ['d9', 'd8']),
      label('q2', ['a'], [], { failures: [{ kind: 'unparseable', message: 'x' }] }),
      label('q3', [], []),
      // A failed reasons call does not make the ranking wrong.
      label('q4', ['z', 'y'], ['x'], { failures: [{ kind: 'reasons', message: 'timeout' }] }),
    ]);
    expect([...run.keys()]).to.deep.equal(['q1', 'q4']);
    expect(run.get('q1')!.map((e) => [e.docid, e.rank, e.score])).to.deep.equal([['d3', 1, 5], ['d1', 2, 4], ['d2', 3, 3], ['d9', 4, 2], ['d8', 5, 1]]);
    expect(trecOrder(run.get('q1')!).map((e) => e.docid)).to.deep.equal(['d3', 'd1', 'd2', 'd9', 'd8']);
    expect(labelsToRun([label('q1', ['d3'], ['d9'])], { hardNegatives: false }).get('q1')!.map((e) => e.docid)).to.deep.equal(['d3']);
  });

  it('labels from a real label run → TREC run: eval gives the same numbers with and without --by-rank; --trec-out writes the same file', async () => {
    const dir = tmpDir();
    const relOf = (t: string) => Number(/rel(\d+)/.exec(t)?.[1] ?? 0);
    // The teacher names its best 3 of the 6 it is sent: the other 3 become hard negatives.
    const server = await startFakeLlm((c) => ({ content: answer(idealOrder(c.passages, relOf).slice(0, 3)) }));
    try {
      fs.writeFileSync(path.join(dir, 'corpus.tsv'), Array.from({ length: 8 }, (_, i) => `d${i}\tpassage about cats rel${i} ${'cat '.repeat(i % 3)}`).join('\n') + '\n');
      fs.writeFileSync(path.join(dir, 'queries.tsv'), 'q1\tcats\nq2\tcat passage\n');
      fs.writeFileSync(path.join(dir, 'qrels.txt'), ['q1 0 d7 3', 'q1 0 d6 1', 'q1 0 d0 2', 'q2 0 d5 1', 'q2 0 d1 2'].join('\n') + '\n');
      const labels = path.join(dir, 'labels.jsonl');
      const viaLabel = path.join(dir, 'via-label.run');
      const l = await runCli(['label', '--llm-url', server.url, '--model', 'fake', '--no-api-key', '--corpus', path.join(dir, 'corpus.tsv'), '--queries', path.join(dir, 'queries.tsv'), '--mode', 'rradistill', '--top-k', '3', '--bottom-k', '3', '--out', labels, '--trec-out', viaLabel, '--quiet']);
      expect(l.code, l.stderr).to.equal(0);
      expect(l.stdout).to.contain(`TREC run: ${viaLabel} (2 queries)`);
      const out = path.join(dir, 'teacher.run');
      const r = await runCli(['labels-to-run', '--labels', labels, '--out', out]);
      expect(r.code, r.stderr).to.equal(0);
      expect(r.stdout.split('\n')[0]).to.equal(`wrote ${out}: 2 queries, 12 documents (0 labels without a ranking skipped)`);
      expect(fs.readFileSync(out, 'utf8')).to.equal(fs.readFileSync(viaLabel, 'utf8'));
      // The rank column order is the labels' order: ranking, then hard negatives.
      const recs = fs.readFileSync(labels, 'utf8').trim().split('\n').map((x) => JSON.parse(x) as TeacherLabel);
      const byRank = await readLlmRerankRun(out);
      for (const rec of recs) expect(byRank.get(rec.qid)!.map((e) => e.docid)).to.deep.equal([...rec.ranking, ...rec.hardNegatives]);
      const byScore = await readTrecRun(out);
      for (const rec of recs) expect(trecOrder(byScore.get(rec.qid)!).map((e) => e.docid)).to.deep.equal([...rec.ranking, ...rec.hardNegatives]);
      const ev = (extra: string[]) => runCli(['eval', '--qrels', path.join(dir, 'qrels.txt'), '--run', out, '-m', 'ndcg_cut_10,map,recip_rank', '--per-query', ...extra]);
      const [plain, ranked] = await Promise.all([ev([]), ev(['--by-rank'])]);
      expect(plain.code, plain.stderr).to.equal(0);
      expect(ranked.stdout).to.equal(plain.stdout);
      expect(plain.stdout).to.match(/ndcg_cut_10\s+all\s+0\.\d{4}/);
    } finally {
      await server.close();
    }
  });

  it('bad labels: exit 2 naming file, line and field', async () => {
    const dir = tmpDir();
    const f = path.join(dir, 'labels.jsonl');
    fs.writeFileSync(f, `${JSON.stringify(label('q1', ['d1']))}\n${JSON.stringify({ ...label('q2', []), ranking: 'd1 d2' })}\n`);
    const r = await runCli(['labels-to-run', '--labels', f, '--out', path.join(dir, 'x.run')]);
    expect(r.code).to.equal(2);
    expect(r.errLines[0]).to.equal(`rankdistill: ${f}:2: field 'ranking': expected an array of docids, got the string "d1 d2"`);
  });
});

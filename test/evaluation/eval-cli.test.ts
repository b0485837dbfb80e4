// `rankdistill eval` on the staged data: once as a user runs it (a child process of src/cli/main.ts),
// the other cases in-process (a spawn costs seconds).
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { run as evalCommand } from '../../src/cli/commands/eval.js';
import { InputError } from '../../src/utils/errors.js';
import { dataPath, hasData, tmpDir } from '../helpers.js';

function spawnCli(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], { encoding: 'utf8', timeout: 120000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** The eval command in-process with stdout captured. */
async function evalCli(args: string[]): Promise<string> {
  const out: string[] = [];
  const log = console.log;
  console.log = (...a: unknown[]) => void out.push(a.join(' '));
  try {
    expect(await evalCommand(args)).to.equal(0);
  } finally {
    console.log = log;
  }
  return out.join('\n');
}

async function evalFails(args: string[], msg: RegExp | string): Promise<void> {
  let err: unknown;
  try {
    await evalCli(args);
  } catch (e) {
    err = e;
  }
  expect(err, 'expected an InputError').to.be.instanceOf(InputError);
  if (typeof msg === 'string') expect((err as Error).message).to.contain(msg);
  else expect((err as Error).message).to.match(msg);
}

describe('cli: rankdistill eval', function () {
  before(function () {
    if (!hasData('trec-dl-2019-passage') || !hasData('trec-dl-2020-passage') || !hasData('llm-rerank-runs-dl19')) this.skip();
  });
  const D = (...p: string[]) => dataPath(...p);

  it('prints trec_eval-style lines; BM25 nDCG@10 0.5058 (DL19, as a child process), 0.4796 (DL20)', async () => {
    const r = spawnCli(['eval', '--qrels', D('trec-dl-2019-passage', 'qrels.txt'), '--run', D('trec-dl-2019-passage', 'bm25-top100.run'), '--measures', 'ndcg_cut_10,recip_rank,num_rel_ret', '--level', '2']);
    expect(r.status, r.stderr).to.equal(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines[0]).to.equal(`${'num_q'.padEnd(22)}\tall\t43`);
    expect(lines[1]).to.equal(`${'ndcg_cut_10'.padEnd(22)}\tall\t0.5058`);
    expect(lines[2]).to.match(/^recip_rank {12}\tall\t0\.\d{4}$/);
    // the DL19 README: 846 grade>=2 passages are in the top-100
    expect(lines[3]).to.equal(`${'num_rel_ret'.padEnd(22)}\tall\t846`);
    const o = await evalCli(['--qrels', D('trec-dl-2020-passage', 'qrels.txt'), '--run', D('trec-dl-2020-passage', 'bm25-top100.run'), '-m', 'ndcg_cut_10']);
    expect(o.split('\n')).to.deep.equal([`${'num_q'.padEnd(22)}\tall\t54`, `${'ndcg_cut_10'.padEnd(22)}\tall\t0.4796`]);
  });

  it('--per-query --json --by-rank on an LLM teacher run, --baseline paired tests, -m ndcg_cut.5,10', async () => {
    const j = JSON.parse(
      await evalCli([
        '--qrels',
        D('trec-dl-2019-passage', 'qrels.txt'),
        '--run',
        D('llm-rerank-runs-dl19', 'run.batchwise.top.b10.txt'),
        '--by-rank',
        '-m',
        'ndcg_cut.5,10',
        '--per-query',
        '--json',
        '--baseline',
        D('trec-dl-2019-passage', 'bm25-top100.run'),
        '--trials',
        '2000',
      ]),
    );
    expect(j.numQueries).to.equal(43);
    expect(Object.keys(j.aggregate)).to.deep.equal(['ndcg_cut_5', 'ndcg_cut_10']);
    expect(j.aggregate.ndcg_cut_10.toFixed(4)).to.equal('0.7066');
    expect(Object.keys(j.perQuery)).to.have.length(43);
    const mean = Object.values(j.perQuery as Record<string, { ndcg_cut_10: number }>).reduce((s, v) => s + v.ndcg_cut_10, 0) / 43;
    expect(Math.abs(mean - j.aggregate.ndcg_cut_10)).to.be.below(1e-12);
    expect(j.baseline.ndcg_cut_10.baseline.toFixed(4)).to.equal('0.5058');
    expect(j.baseline.ndcg_cut_10.tTestP).to.be.below(1e-3);
    expect(j.baseline.ndcg_cut_10.randomizationP).to.be.within(1 / 2001, 0.01);
    // without --by-rank the tied vote scores order the run by docid (trec_eval order): another value
    const s = await evalCli(['--qrels', D('trec-dl-2019-passage', 'qrels.txt'), '--run', D('llm-rerank-runs-dl19', 'run.batchwise.top.b10.txt'), '-m', 'ndcg_cut_10']);
    expect(s).to.contain('ndcg_cut_10           \tall\t0.7108');
    const t = await evalCli(['--qrels', D('trec-dl-2019-passage', 'qrels.txt'), '--run', D('llm-rerank-runs-dl19', 'run.batchwise.top.b10.txt'), '--by-rank', '-m', 'ndcg_cut_10', '--baseline', D('trec-dl-2019-passage', 'bm25-top100.run')]);
    expect(t).to.match(/paired tests vs .*\nndcg_cut_10 +\tbaseline 0\.5058\tsystem 0\.7066\tdiff \+0\.2008\tt-test p [\d.e-]+\trandomization p [\d.e-]+$/);
  });

  it('--complete, --cutoff-run and per-query lines in trec_eval -q layout', async () => {
    const dir = tmpDir();
    const run = path.join(dir, 'part.run');
    // only the first 3 DL19 queries
    const lines = fs.readFileSync(D('trec-dl-2019-passage', 'bm25-top100.run'), 'utf8').trim().split('\n').slice(0, 300);
    fs.writeFileSync(run, lines.join('\n') + '\n');
    const base = ['--qrels', D('trec-dl-2019-passage', 'qrels.txt'), '--run', run, '-m', 'recip_rank_10,num_ret'];
    const q = (await evalCli([...base, '-q'])).split('\n');
    expect(q).to.have.length(3 * 2 + 3);
    expect(q[0]).to.match(/^recip_rank_10 {9}\t\d+\t\d\.\d{4}$/);
    expect(q[1]).to.match(/^num_ret {15}\t\d+\t100$/);
    const c = await evalCli([...base, '--complete']);
    expect(c).to.contain('num_q                 \tall\t43');
    expect(c).to.contain('num_ret               \tall\t300');
    expect(await evalCli([...base, '--cutoff-run', '10'])).to.contain('num_ret               \tall\t30');
    // -m repeated, trec_eval style
    const m = (await evalCli(['--qrels', D('trec-dl-2019-passage', 'qrels.txt'), '--run', run, '-m', 'map', '-m', 'P.5,10', '-m', 'ndcg_cut.10'])).split('\n');
    expect(m.map((l) => l.split('\t')[0].trim())).to.deep.equal(['num_q', 'map', 'P_5', 'P_10', 'ndcg_cut_10']);
  });

  it('bad input: malformed run line (child process: exit 2, file:line:field on stderr), unknown measure, missing file, missing options', async () => {
    const q = D('trec-dl-2019-passage', 'qrels.txt');
    const bad = path.join(tmpDir(), 'bad.run');
    fs.writeFileSync(bad, '19335 Q0 d1 1 1.0 t\n19335 Q0 d2 2 oops t\n');
    const r = spawnCli(['eval', '--qrels', q, '--run', bad]);
    expect(r.status).to.equal(2);
    expect(r.stderr).to.contain(`rankdistill: ${bad}:2: field 'score': not a number: 'oops'`);
    await evalFails(['--qrels', q, '--run', D('trec-dl-2019-passage', 'bm25-top100.run'), '-m', 'ndcg@10'], "unknown measure 'ndcg@10'");
    await evalFails(['--qrels', q, '--run', '/nonexistent.run'], '/nonexistent.run');
    await evalFails(['--run', bad], '--qrels and --run are required');
    await evalFails(['--qrels', q, '--run', bad, '--level', 'two'], '--level');
    await evalFails(['--qrels', q, '--run', bad, '--gain', 'exp'], '--gain');
  });
});

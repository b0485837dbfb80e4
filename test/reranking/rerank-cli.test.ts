// `rankdistill rerank` with the HF fixture cross-encoder (random weights) on NovelEval: the scores
// equal CrossEncoder.score, and a killed rerank (a partial output file) resumes to the same file.
// The full run and the resume are child processes of src/cli/main.ts; other cases run in-process.
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { run as rerankCommand } from '../../src/cli/commands/rerank.js';
import { readBm25Json, readCorpusTsv, readQueriesTsv, readTrecRun } from '../../src/data/index.js';
import { CrossEncoder } from '../../src/models/cross-encoder.js';
import { InputError } from '../../src/utils/errors.js';
import { dataPath, expectNoLeak, hasData, tmpDir } from '../helpers.js';

function spawnCli(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], { encoding: 'utf8', timeout: 300000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('cli: rankdistill rerank', function () {
  const MODEL = dataPath('hf-fixtures', 'bert-tiny-random');
  const TOK = dataPath('ms-marco-TinyBERT-L-2-v2-tokenizer-config');
  const N = (...p: string[]) => dataPath('noveleval-2306', ...p);
  const dir = tmpDir('rankdistill-rerank-cli-');
  // A run over the first 6 NovelEval queries from data.json (score = 1/rank), as a TREC file.
  const runFile = path.join(dir, 'in.run');
  const args = (out: string) => ['--model', MODEL, '--tokenizer', TOK, '--run', runFile, '--queries', N('queries.tsv'), '--corpus', N('corpus.tsv'), '--top-k', '5', '--out', out, '--batch-size', '4'];
  let full = '';

  before(async function () {
    if (!hasData('hf-fixtures', 'bert-tiny-random') || !hasData('noveleval-2306') || !hasData('ms-marco-TinyBERT-L-2-v2-tokenizer-config')) this.skip();
    const lists = (await readBm25Json(N('data.json'))).slice(0, 6);
    fs.writeFileSync(runFile, lists.flatMap((c) => c.hits.map((h, i) => `${c.qid} Q0 ${h.docid} ${i + 1} ${h.score} bm25`)).join('\n') + '\n');
  });

  it('reranks --queries/--corpus TSV input (child process); scores equal CrossEncoder.score on the same pairs', async () => {
    const out = path.join(dir, 'full.run');
    const r = spawnCli(['rerank', ...args(out)]);
    expect(r.status, r.stderr).to.equal(0);
    expect(r.stderr).to.contain('rerank [').and.to.contain('wrote');
    full = fs.readFileSync(out, 'utf8');
    const got = await readTrecRun(out);
    expect(got.size).to.equal(6);
    const queries = await readQueriesTsv(N('queries.tsv'));
    const corpus = await readCorpusTsv(N('corpus.tsv'));
    const model = await CrossEncoder.fromPretrained(MODEL, { tokenizer: TOK });
    try {
      for (const [qid, es] of got) {
        expect(es.map((e) => e.rank)).to.deep.equal([1, 2, 3, 4, 5]);
        // the top-5 of the input (score = 1/rank) are its first five documents
        expect(new Set(es.map((e) => e.docid))).to.deep.equal(new Set([0, 1, 2, 3, 4].map((i) => `${qid}-${i}`)));
        const want = await model.score(es.map((e) => [queries.get(qid)!, corpus.get(e.docid)!] as [string, string]));
        es.forEach((e, i) => expect(Math.abs(e.score - want[i]), `${qid} ${e.docid}`).to.be.at.most(1e-6));
        for (let i = 1; i < es.length; i++) expect(es[i - 1].score).to.be.at.least(es[i].score);
      }
    } finally {
      model.dispose();
    }
  });

  it('resumes a killed rerank (partial output file, child process) to the same run; --overwrite restarts', async () => {
    expect(full).to.not.equal('');
    const out = path.join(dir, 'resume.run');
    const lines = full.split('\n');
    // 2 complete queries, the third cut off inside its 2nd line
    fs.writeFileSync(out, lines.slice(0, 6).join('\n') + '\n' + lines[6].slice(0, 7));
    const r = spawnCli(['rerank', ...args(out)]);
    expect(r.status, r.stderr).to.equal(0);
    expect(r.stderr).to.contain('resumed: 1 queries');
    expect(r.stderr).to.contain('5 scored now');
    expect(fs.readFileSync(out, 'utf8')).to.equal(full);
    fs.writeFileSync(out, lines.slice(0, 11).join('\n') + '\n');
    expect(await rerankCommand([...args(out), '--overwrite', '--quiet'])).to.equal(0);
    expect(fs.readFileSync(out, 'utf8')).to.equal(full);
  });

  it('--beir-queries/--beir-corpus: the model sees title and text joined', async () => {
    const corpus = await readCorpusTsv(N('corpus.tsv'));
    const queries = await readQueriesTsv(N('queries.tsv'));
    const bq = path.join(dir, 'queries.jsonl');
    const bc = path.join(dir, 'corpus.jsonl');
    fs.writeFileSync(bq, ['0', '1'].map((q) => JSON.stringify({ _id: q, text: queries.get(q) })).join('\n') + '\n');
    const ids = ['0-0', '0-1', '1-0', '1-1'];
    fs.writeFileSync(bc, ids.map((d) => JSON.stringify({ _id: d, title: `Title ${d}`, text: corpus.get(d) })).join('\n') + '\n');
    const run = path.join(dir, 'beir-in.run');
    fs.writeFileSync(run, ids.map((d, i) => `${d.split('-')[0]} Q0 ${d} ${(i % 2) + 1} ${2 - (i % 2)} bm25`).join('\n') + '\n');
    const out = path.join(dir, 'beir.run');
    expect(await rerankCommand(['--model', MODEL, '--tokenizer', TOK, '--run', run, '--beir-queries', bq, '--beir-corpus', bc, '--top-k', '2', '--out', out, '--quiet'])).to.equal(0);
    const got = await readTrecRun(out);
    const model = await CrossEncoder.fromPretrained(MODEL, { tokenizer: TOK });
    try {
      for (const [qid, es] of got) {
        const want = await model.score(es.map((e) => [queries.get(qid)!, `Title ${e.docid} ${corpus.get(e.docid)}`] as [string, string]));
        es.forEach((e, i) => expect(Math.abs(e.score - want[i])).to.be.at.most(1e-6));
      }
    } finally {
      model.dispose();
    }
    expect(got.size).to.equal(2);
  });

  it('--bm25-json without --run reranks the JSON candidates; bad arguments are InputErrors', async () => {
    const out = path.join(dir, 'json.run');
    // the command loads, uses and disposes the model: no tensor outlives it
    await expectNoLeak(async () => expect(await rerankCommand(['--model', MODEL, '--tokenizer', TOK, '--bm25-json', N('data.json'), '--top-k', '2', '--out', out, '--quiet'])).to.equal(0), 'rerank command');
    const run = await readTrecRun(out);
    expect(run.size).to.equal(21);
    expect([...run.values()].every((es) => es.length === 2)).to.equal(true);
    for (const [a, msg] of [
      [['--model', MODEL, '--run', runFile, '--queries', N('queries.tsv'), '--out', out], '--queries and --corpus go together'],
      [['--model', MODEL, '--bm25-json', N('data.json'), '--top-k', 'ten', '--out', out], '--top-k'],
      [['--model', MODEL, '--bm25-json', N('data.json'), '--queries', N('queries.tsv'), '--corpus', N('corpus.tsv'), '--out', out], 'one way'],
      [['--model', MODEL, '--queries', N('queries.tsv'), '--corpus', N('corpus.tsv'), '--out', out], '--run is required'],
      [['--bm25-json', N('data.json'), '--out', out], '--model and --out are required'],
    ] as const) {
      let err: unknown;
      try {
        await rerankCommand([...a]);
      } catch (e) {
        err = e;
      }
      expect(err, msg).to.be.instanceOf(InputError);
      expect((err as Error).message).to.contain(msg);
    }
  });
});

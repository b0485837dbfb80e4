// `rankdistill retrieve`: a dense build killed by SIGKILL in a real child process resumes to the same
// index bytes and run as an uninterrupted build; BM25, dense and fused runs equal the library's; bad
// input names the file, line or option. The kill and the resume are child processes of
// src/cli/main.ts; the other cases run in-process.
import { expect } from 'chai';
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { run as retrieveCommand } from '../../src/cli/commands/retrieve.js';
import { readBm25Json, readTrecRun } from '../../src/data/index.js';
import { BiEncoder } from '../../src/models/bi-encoder/index.js';
import { Bm25Index } from '../../src/retrieval/bm25.js';
import { DenseIndex } from '../../src/retrieval/dense.js';
import { interpolateScores, reciprocalRankFusion, runOrder } from '../../src/retrieval/fusion.js';
import { InputError } from '../../src/utils/errors.js';
import { dataPath, tmpDir } from '../helpers.js';

const CLI = [process.execPath, '--import', 'tsx', 'src/cli/main.ts'] as const;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('cli: rankdistill retrieve', function () {
  this.timeout(600000);
  const dir = tmpDir('rankdistill-retrieve-cli-');
  const modelDir = path.join(dir, 'tiny-bi-encoder');
  const corpus = path.join(dir, 'corpus.tsv');
  const queries = dataPath('trec-dl-2019-passage', 'queries.tsv');
  let docs: Array<{ id: string; text: string }>;

  before(async () => {
    // DL19 passages as the corpus; a tiny random bi-encoder (short max length: fast enough to kill mid-build).
    const seen = new Map<string, string>();
    for (const c of await readBm25Json(dataPath('trec-dl-2019-passage', 'bm25-top100.json'))) for (const h of c.hits) seen.set(h.docid, h.text.replace(/\s+/g, ' '));
    docs = [...seen].slice(0, 2400).map(([id, text]) => ({ id, text }));
    fs.writeFileSync(corpus, docs.map((d) => `${d.id}\t${d.text}\n`).join(''));
    const m = new BiEncoder(
      { hidden_size: 32, num_hidden_layers: 2, num_attention_heads: 2, intermediate_size: 64, max_position_embeddings: 64 },
      { tokenizer: dataPath('ms-marco-TinyBERT-L-2-v2-tokenizer-config'), seed: 12 },
    );
    await m.save(modelDir);
    m.dispose();
  });

  const denseArgs = (out: string, index: string) => ['retrieve', '--dense', modelDir, '--corpus', corpus, '--queries', queries, '--out', out, '--index', index, '--k', '20', '--chunk-size', '16', '--batch-size', '8'];

  it('a build killed by SIGKILL (child process) resumes to the same index bytes and run as an uninterrupted build', async () => {
    const idx = path.join(dir, 'killed-index');
    const out = path.join(dir, 'killed.run');
    const child = spawn(CLI[0], [...CLI.slice(1), ...denseArgs(out, idx), '--quiet'], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
    const emb = path.join(idx, 'embeddings.f32');
    const rowBytes = 32 * 4;
    // Kill once at least three chunks are on disk.
    let killedAt = -1;
    for (let t = 0; t < 120000 && killedAt < 0; t += 5) {
      if (child.exitCode !== null) break;
      if (fs.existsSync(emb) && fs.statSync(emb).size >= 3 * 16 * rowBytes) {
        child.kill('SIGKILL');
        killedAt = fs.statSync(emb).size / rowBytes;
      } else await sleep(5);
    }
    await exited;
    expect(killedAt, `the child ended before it could be killed: ${stderr}`).to.be.greaterThan(0);
    expect(child.signalCode).to.equal('SIGKILL');
    const rows = fs.statSync(emb).size / rowBytes;
    expect(rows, 'killed mid-build').to.be.lessThan(docs.length);
    expect(JSON.parse(fs.readFileSync(path.join(idx, 'meta.json'), 'utf8')).complete).to.equal(false);
    expect(fs.existsSync(out)).to.equal(false);

    const r = spawnSync(CLI[0], [...CLI.slice(1), ...denseArgs(out, idx)], { encoding: 'utf8', timeout: 300000 });
    expect(r.status, r.stderr).to.equal(0);
    expect(r.stderr).to.match(new RegExp(`resuming .*killed-index at document ${Math.floor(rows / 16) * 16} of ${docs.length}`));
    expect(r.stderr).to.contain('dense index [').and.to.contain(`wrote ${out}`);

    // The uninterrupted build (in-process, same options).
    const refIdx = path.join(dir, 'ref-index');
    const refOut = path.join(dir, 'ref.run');
    expect(await retrieveCommand([...denseArgs(refOut, refIdx).slice(1), '--quiet'])).to.equal(0);
    for (const f of ['meta.json', 'ids.txt', 'embeddings.f32']) {
      expect(fs.readFileSync(path.join(idx, f)).equals(fs.readFileSync(path.join(refIdx, f))), `${f} byte-identical`).to.equal(true);
    }
    expect(fs.readFileSync(out, 'utf8')).to.equal(fs.readFileSync(refOut, 'utf8'));
    const run = await readTrecRun(out);
    expect(run.size).to.equal(43);
    for (const es of run.values()) expect(es.map((e) => e.rank)).to.deep.equal(Array.from({ length: 20 }, (_, i) => i + 1));
  });

  it('--bm25 equals Bm25Index.search; --dense --bm25 fuses the two runs (RRF, interpolation)', async () => {
    const q = new Map((fs.readFileSync(queries, 'utf8').trim().split('\n') as string[]).map((l) => l.split('\t') as [string, string]));
    const bm25 = Bm25Index.fromDocuments(docs.map((d) => ({ docid: d.id, text: d.text })));
    const outB = path.join(dir, 'bm25.run');
    expect(await retrieveCommand(['--bm25', '--corpus', corpus, '--queries', queries, '--out', outB, '--k', '15', '--quiet'])).to.equal(0);
    const gotB = await readTrecRun(outB);
    for (const [qid, text] of q) expect(gotB.get(qid)!.map((e) => e.docid)).to.deep.equal(bm25.search(text, 15).map((h) => h.docid));

    const idx = path.join(dir, 'ref-index'); // built by the previous test: reused
    const model = await BiEncoder.fromPretrained(modelDir);
    const dense = await DenseIndex.open(idx).search([...q.values()], model, 15, { batchSize: 8 });
    model.dispose();
    for (const [fusion, extra] of [['rrf', []], ['interpolation', ['--weight', '0.3']]] as const) {
      const out = path.join(dir, `fused-${fusion}.run`);
      expect(await retrieveCommand([...denseArgs(out, idx).slice(1), '--k', '15', '--bm25', '--fusion', fusion, ...extra, '--quiet'])).to.equal(0);
      const got = await readTrecRun(out);
      [...q.keys()].forEach((qid, i) => {
        const d = dense[i].map((h, j) => ({ docid: h.id, score: h.score, rank: j + 1 }));
        const b = bm25.search(q.get(qid)!, 15).map((h, j) => ({ docid: h.docid, score: h.score, rank: j + 1 }));
        const want = fusion === 'rrf' ? reciprocalRankFusion([runOrder(d), runOrder(b)], { depth: 15 }) : interpolateScores([d, b], [0.3, 0.7], { depth: 15 });
        const es = got.get(qid)!;
        expect(es.map((e) => e.docid)).to.deep.equal(want.map((h) => h.docid));
        expect(es.map((e) => e.score)).to.deep.equal(want.map((h) => h.score));
        expect(es[0].tag).to.equal('fused');
      });
    }
  });

  it('bad input names the file, line or option', async () => {
    const fail = async (args: string[]) => (await retrieveCommand([...args, '--quiet']).catch((e: unknown) => e)) as InputError;
    const base = ['--corpus', corpus, '--queries', queries, '--out', path.join(dir, 'x.run')];
    expect((await fail(base)).message).to.match(/give --dense MODEL, --bm25, or both/);
    expect((await fail(['--bm25', '--queries', queries, '--out', 'x'])).message).to.match(/--corpus, --queries and --out are required/);
    expect((await fail(['--bm25', ...base, '--fusion', 'max'])).location.field).to.equal('--fusion');
    expect((await fail(['--bm25', ...base, '--weight', '1.5'])).location.field).to.equal('--weight');
    expect((await fail(['--bm25', ...base, '--k', '0'])).location.field).to.equal('--k');
    const e1 = await fail(['--dense', path.join(dir, 'no-such-model'), ...base]);
    expect(e1.location).to.deep.equal({ file: path.join(dir, 'no-such-model'), field: '--dense' });
    const e2 = await fail(['--bm25', '--corpus', path.join(dir, 'corpus.csv'), '--queries', queries, '--out', 'x']);
    expect(e2.location).to.deep.equal({ file: path.join(dir, 'corpus.csv'), field: '--corpus' });
    const broken = path.join(dir, 'broken.tsv');
    fs.writeFileSync(broken, 'd1\tfine text\nd2 no tab here\n');
    const e3 = await fail(['--bm25', '--corpus', broken, '--queries', queries, '--out', 'x']);
    expect(e3.message).to.match(/broken\.tsv:2: field 'text': no tab/);
    // Through the real entry point: exit code 1 and the message, no stack.
    const r = spawnSync(CLI[0], [...CLI.slice(1), 'retrieve', '--bm25', '--corpus', broken, '--queries', queries, '--out', path.join(dir, 'y.run')], { encoding: 'utf8' });
    expect(r.status).to.equal(1);
    expect(r.stderr).to.match(/^rankdistill: .*broken\.tsv:2: field 'text': no tab/m);
    expect(fs.existsSync(path.join(dir, 'y.run'))).to.equal(false);
  });
});

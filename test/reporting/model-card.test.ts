// Model cards written by save(): filled from the training run (data, loss, settings, dev results),
// with what is unknown left out; and their usage sections work as written — the Python snippets
// (sentence-transformers, transformers) run in the peer venv and print the scores rankdistill gives,
// the TypeScript snippets run against the built package.
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { CrossEncoder } from '../../src/models/cross-encoder.js';
import { RraBert } from '../../src/models/rra-bert/model.js';
import { RraGpt } from '../../src/models/rra-gpt/ranker.js';
import { T5Ranker } from '../../src/models/t5/rankers.js';
import { TextTokenizer } from '../../src/tokenization/tokenizer.js';
import { listFromRanking } from '../../src/data/lists.js';
import { Trainer } from '../../src/training/trainer.js';
import { dataPath, expectClose, tmpDir } from '../helpers.js';
import { runPeer } from '../peer.js';
import { TEST_OUTPUT } from './output.js';

const QUERY = 'how do cats purr';
const PASSAGES = ['Cats purr by vibrating the muscles of their larynx.', 'Dogs bark to warn their owners.'];

/** The fenced code blocks of a language in a markdown text. */
const blocks = (md: string, lang: string) => [...md.matchAll(new RegExp('```' + lang + '\\n([\\s\\S]*?)\\n```', 'g'))].map((m) => m[1]);

describe('model cards (README.md written by save())', function () {
  this.timeout(180000);
  const BERT_TOK = dataPath('ms-marco-TinyBERT-L-2-v2-tokenizer-config');
  const dir = tmpDir('rankdistill-cards-');
  const models: Array<{ name: string; dir: string; scores: number[] }> = [];

  before(async () => {
    const tok = TextTokenizer.fromDir(BERT_TOK, { maxLength: 64 });
    // A cross-encoder trained for a few steps with a dev evaluation: the card gets the run.
    const ce = new CrossEncoder({ vocab_size: 30522, hidden_size: 32, num_hidden_layers: 1, num_attention_heads: 2, intermediate_size: 64, max_position_embeddings: 64 }, { tokenizer: tok, seed: 1, maxLength: 64 });
    ce.modelCard.trainingData = ['4 toy lists'];
    ce.modelCard.teacher = 'a made-up teacher';
    const lists = Array.from({ length: 4 }, (_, i) => listFromRanking(`q${i}`, `${QUERY} ${i}`, [PASSAGES[0], PASSAGES[1], 'A third passage.']));
    const run = path.join(dir, 'run');
    const tr = new Trainer(ce, { loss: 'listnet', lr: 1e-3, listSize: 3, listsPerBatch: 2, epochs: 2, progress: false, plots: false, outputDir: run, evaluate: async () => ({ ndcg_cut_10: 0.5 }), metricForBest: 'ndcg_cut_10' });
    await tr.train(lists);
    tr.dispose();
    models.push({ name: 'cross-encoder', dir: path.join(run, 'final'), scores: await ce.score(PASSAGES.map((p) => [QUERY, p])) });
    ce.dispose();

    // T5 rankers saved untrained: no training section, and "not recorded" where the card cannot know.
    const t5tok = TextTokenizer.fromDir(dataPath('t5-small-spiece'));
    for (const head of ['monot5', 'twolar'] as const) {
      const r = T5Ranker.create({ vocab_size: 32128, d_model: 16, d_kv: 8, d_ff: 32, num_layers: 1, num_heads: 2 }, { tokenizer: t5tok, head, seed: 2 });
      const d = path.join(dir, head);
      await r.save(d);
      models.push({ name: head, dir: d, scores: await r.score(PASSAGES.map((p) => [QUERY, p])) });
      r.dispose();
    }
    const rb = new RraBert({ vocab_size: 30522, hidden_size: 32, num_hidden_layers: 1, num_attention_heads: 2, intermediate_size: 64, max_position_embeddings: 64 }, { tokenizer: tok, seed: 4, maxLength: 64 });
    await rb.save(path.join(dir, 'rra-bert'));
    models.push({ name: 'rra-bert', dir: path.join(dir, 'rra-bert'), scores: await rb.score(PASSAGES.map((p) => [QUERY, p])) });
    rb.dispose();
    const rg = new RraGpt({ vocab_size: 30522, hidden_size: 32, intermediate_size: 64, num_hidden_layers: 1, num_attention_heads: 2, num_key_value_heads: 1, max_position_embeddings: 256 }, { tokenizer: tok, seed: 5 });
    await rg.save(path.join(dir, 'rra-gpt'));
    models.push({ name: 'rra-gpt', dir: path.join(dir, 'rra-gpt'), scores: await rg.score(PASSAGES.map((p) => [QUERY, p])) });
    rg.dispose();
  });

  const card = (name: string) => fs.readFileSync(path.join(models.find((m) => m.name === name)!.dir, 'README.md'), 'utf8');

  it('a trained model: metadata, data, teacher, loss, settings, run, dev results; nothing invented', () => {
    const md = card('cross-encoder');
    expect(md.startsWith('---\nlibrary_name: rankdistill\ntags:\n- "rankdistill"\n- "cross-encoder"')).to.equal(true);
    expect(md).to.contain('pipeline_tag: text-ranking').and.to.contain('model-index:\n- name: "run"');
    expect(md).to.not.contain('base_model:');
    expect(md).to.contain('It was distilled from the rankings of a made-up teacher with rankdistill.');
    expect(md).to.contain('| architecture | BERT cross-encoder (`BertForSequenceClassification`): hidden 32, 1 layer, 2 attention heads, FFN 64 |');
    expect(md).to.contain('| initialised from | random weights (trained from scratch) |');
    expect(md).to.contain('Data:\n\n- 4 toy lists').and.to.contain('Teacher: a made-up teacher').and.to.contain('Loss: `listnet`');
    expect(md).to.match(/Run: 4 optimiser steps, 2 epochs, 4 training lists, \d+ s, loss [\d.]+ → [\d.]+\./);
    expect(md).to.contain('| lr | 0.001 |').and.to.contain('| listSize | 3 |');
    expect(md).to.contain('| dev | ndcg_cut_10 | 0.5000 | best of 2 dev evaluations (step 2): the weights saved |');
    // Loaded again and saved: the base model is recorded, the run is not (it is another model now).
    const t5 = card('monot5');
    expect(t5).to.contain('| head | monoT5').and.to.contain('| initialised from | not recorded |').and.to.not.contain('## Training').and.to.not.contain('## Evaluation');
    expect(t5).to.contain('| input | `Query: {query} Document: {passage} Relevant:` |');
    expect(card('rra-gpt')).to.contain("the relevance score comes from RRA-GPT's ranking layer").and.to.not.contain('```python');
    expect(card('rra-bert')).to.contain('# RRA-BERT re-ranker (RRADistill)').and.to.contain('RRADistill: Distilling');
  });

  it('the Python snippets run as written (peer venv) and print the scores rankdistill gives', () => {
    const snippets = models.flatMap((m) => blocks(card(m.name), 'python').map((code) => ({ model: m, code })));
    expect(snippets.map((s) => s.model.name)).to.deep.equal(['cross-encoder', 'cross-encoder', 'monot5', 'twolar', 'rra-bert', 'rra-bert']);
    // One interpreter for all: each snippet in its own namespace, its printed list captured.
    const out = runPeer(
      [
        'import io, json, sys, contextlib',
        'results = []',
        'for code in json.load(open(sys.argv[1])):',
        '    buf = io.StringIO()',
        '    with contextlib.redirect_stdout(buf):',
        '        exec(code, {})',
        '    results.append(json.loads(buf.getvalue().strip().splitlines()[-1]))',
        'print(json.dumps(results))',
      ].join('\n'),
      [writeJson(path.join(dir, 'snippets.json'), snippets.map((s) => s.code))],
    );
    const got = JSON.parse(out.trim().split('\n').at(-1)!) as number[][];
    snippets.forEach((s, i) => expectClose(got[i], s.model.scores, 1e-4, 1e-3, `${s.model.name} snippet ${i}`));
  });

  it('the TypeScript snippets run as written against the built package', function () {
    if (!fs.existsSync(path.resolve('dist/src/index.js'))) this.skip(); // `npm test` builds first
    fs.mkdirSync(TEST_OUTPUT, { recursive: true });
    const files = models.map((m) => {
      const f = path.join(TEST_OUTPUT, `card-snippet-${m.name}.mts`);
      fs.writeFileSync(f, blocks(card(m.name), 'ts')[0].replace("console.log(ranked); // [{ index, doc, score }, …] best first", "console.log(JSON.stringify(ranked.map((r) => r.score)));").replace(/const scores = (await model\.score\(.*\));$/m, 'console.log(JSON.stringify($1));'));
      return f;
    });
    // One process imports the snippet modules in turn (tfjs loads once).
    const runner = path.join(TEST_OUTPUT, 'card-snippets.mjs');
    fs.writeFileSync(runner, `for (const f of ${JSON.stringify(files)}) await import(f);\n`);
    const r = spawnSync(process.execPath, ['--import', 'tsx', runner], { encoding: 'utf8', timeout: 120000 });
    expect(r.status, r.stderr).to.equal(0);
    const printed = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as number[]);
    models.forEach((m, i) => {
      // rank() sorts best first: compare as sorted values.
      const want = m.name === 'rra-bert' ? m.scores : [...m.scores].sort((a, b) => b - a);
      expectClose(printed[i], want, 1e-5, 0, `${m.name} TypeScript snippet`);
    });
  });
});

function writeJson(f: string, v: unknown): string {
  fs.writeFileSync(f, JSON.stringify(v));
  return f;
}

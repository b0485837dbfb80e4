// loadRanker and `rankdistill rerank --model` for every ranker family: a small random model of each
// family is made and saved here, recognised from its folder (config.json and side files), loaded as
// the right class with its settings, and `rerank` (in-process) writes the scores the model gave before
// it was saved. A Hub id goes through the HF cache (a real local Hub server); an unknown
// architecture is a clear error.
import fs from 'node:fs';
import path from 'node:path';
import { expect } from 'chai';
import { run as rerankCommand } from '../../src/cli/commands/rerank.js';
import { readBm25Json, readTrecRun, type CandidateList } from '../../src/data/index.js';
import { BiEncoder } from '../../src/models/bi-encoder/model.js';
import { CrossEncoder } from '../../src/models/cross-encoder.js';
import type { Ranker } from '../../src/models/ranker.js';
import { loadRanker, rankerFamilies, registerRankerFamily, resolveRanker } from '../../src/models/registry.js';
import { RraBert } from '../../src/models/rra-bert/model.js';
import { RraGpt } from '../../src/models/rra-gpt/ranker.js';
import { T5Ranker } from '../../src/models/t5/rankers.js';
import { InputError } from '../../src/utils/errors.js';
import { HubServer } from '../hub/hub-server.js';
import { dataPath, expectClose, expectNoLeak, hasData, tmpDir } from '../helpers.js';

const BERT_TOK = dataPath('ms-marco-TinyBERT-L-2-v2-tokenizer-config');
const T5_TOK = dataPath('t5-small-spiece');
const SMALL_BERT = { hidden_size: 32, num_hidden_layers: 1, num_attention_heads: 2, intermediate_size: 64, max_position_embeddings: 128 };

interface Case {
  family: string;
  cls: new (...a: never[]) => unknown;
  make: () => Promise<Ranker>;
  /** What the loaded model must have kept from the saved one. */
  check?: (m: unknown) => void;
}

const CASES: Case[] = [
  {
    family: 'cross-encoder',
    cls: CrossEncoder,
    make: () => CrossEncoder.fromPretrained(dataPath('hf-fixtures', 'bert-tiny-random'), { tokenizer: BERT_TOK, maxLength: 64 }),
    check: (m) => expect((m as CrossEncoder).maxLength).to.equal(64),
  },
  {
    family: 'rra-bert',
    cls: RraBert,
    make: async () => new RraBert(SMALL_BERT, { tokenizer: BERT_TOK, maxLength: 64, seed: 3, rra: { lambda: 0.5, pooling: 'attention' } }),
    check: (m) => expect((m as RraBert).rra).to.deep.include({ lambda: 0.5, pooling: 'attention' }),
  },
  {
    family: 't5',
    cls: T5Ranker,
    make: () => T5Ranker.fromPretrained(dataPath('hf-fixtures', 't5-tiny-random'), { head: 'twolar', tokenizer: T5_TOK, maxLength: 48 }),
    check: (m) => expect([(m as T5Ranker).head, (m as T5Ranker).maxLength]).to.deep.equal(['twolar', 48]),
  },
  {
    family: 'rra-gpt',
    cls: RraGpt,
    make: async () =>
      new RraGpt(
        { vocab_size: 30522, hidden_size: 32, intermediate_size: 64, num_hidden_layers: 1, num_attention_heads: 2, num_key_value_heads: 1, max_position_embeddings: 128, tie_word_embeddings: true, initializer_range: 0.1 },
        { tokenizer: BERT_TOK, seed: 5, maxPromptLength: 64, alpha: 0.25 },
      ),
    check: (m) => expect([(m as RraGpt).maxPromptLength, (m as RraGpt).alpha]).to.deep.equal([64, 0.25]),
  },
  {
    family: 'bi-encoder',
    cls: BiEncoder,
    // (The score scale is not part of the sentence-transformers folder: the default, 20, is used.)
    make: async () => new BiEncoder(SMALL_BERT, { tokenizer: BERT_TOK, seed: 7, maxSeqLength: 48, pooling: 'cls', similarity: 'dot' }),
    check: (m) => expect([(m as BiEncoder).maxSeqLength, (m as BiEncoder).pooling, (m as BiEncoder).similarity]).to.deep.equal([48, ['cls'], 'dot']),
  },
];

describe('models: loadRanker and `rerank --model` for every family', function () {
  const root = tmpDir('rankdistill-registry-');
  let lists: CandidateList[] = [];
  let bm25File = '';
  /** family → folder, and the scores of the in-memory model before saving (pairs of `lists`, top 3). */
  const saved = new Map<string, { dir: string; scores: number[] }>();
  const pairsOf = (ls: CandidateList[]) => ls.flatMap((c) => c.hits.slice(0, 3).map((h) => [c.query, h.text] as [string, string]));

  before(async function () {
    if (![BERT_TOK, T5_TOK, dataPath('hf-fixtures'), dataPath('noveleval-2306')].every((p) => fs.existsSync(p))) this.skip();
    lists = (await readBm25Json(dataPath('noveleval-2306', 'data.json'))).slice(0, 3).map((c) => ({ ...c, hits: c.hits.slice(0, 3) }));
    bm25File = path.join(root, 'candidates.json');
    fs.writeFileSync(bm25File, JSON.stringify(lists.map((c) => ({ query: c.query, hits: c.hits.map((h, i) => ({ qid: c.qid, docid: h.docid, rank: i + 1, score: h.score, content: h.text })) }))));
    for (const c of CASES) {
      const m = await c.make();
      const dir = path.join(root, c.family);
      await m.save(dir);
      saved.set(c.family, { dir, scores: await m.score(pairsOf(lists)) });
      m.dispose();
    }
  });

  for (const c of CASES) {
    it(`${c.family}: recognised from its folder, loaded with its settings, and reranked by the CLI with its scores`, async () => {
      const { dir, scores } = saved.get(c.family)!;
      expect((await resolveRanker(dir)).family.name).to.equal(c.family);
      const m = await loadRanker(dir, { options: { loadReport: false } });
      try {
        expect(m).to.be.instanceOf(c.cls);
        c.check?.(m);
        expectClose(await m.score(pairsOf(lists)), scores, 1e-6, 1e-6, `${c.family} loadRanker`);
        // rank() batches one query's documents alone (other padding): equal up to float rounding.
        const ranked = await m.rank(lists[0].query, lists[0].hits.map((h) => h.text));
        expectClose(ranked.map((r) => scores[r.index]), [...scores.slice(0, 3)].sort((x, y) => y - x), 0, 0, `${c.family} rank order`);
        expectClose(ranked.map((r) => r.score), ranked.map((r) => scores[r.index]), 1e-5, 1e-5, `${c.family} rank scores`);
      } finally {
        m.dispose();
      }
      const out = path.join(root, `${c.family}.run`);
      await expectNoLeak(async () => expect(await rerankCommand(['--model', dir, '--bm25-json', bm25File, '--top-k', '3', '--out', out, '--quiet'])).to.equal(0), `rerank ${c.family}`);
      const run = await readTrecRun(out);
      const got = lists.flatMap((l) => l.hits.map((h) => run.get(l.qid)!.find((e) => e.docid === h.docid)!.score));
      expectClose(got, scores, 1e-6, 1e-6, `${c.family} rerank`);
      const manifest = JSON.parse(fs.readFileSync(`${out}.manifest.json`, 'utf8')) as { settings: { model: string } };
      expect(manifest.settings.model).to.match(/^[0-9a-f]{64}$/);
    });
  }

  it('--family overrides recognition: a bi-encoder folder scored as a cross-encoder (its BERT under a fresh head)', async () => {
    const { dir } = saved.get('bi-encoder')!;
    const m = await loadRanker(dir, { family: 'cross-encoder', options: { loadReport: false } });
    try {
      expect(m).to.be.instanceOf(CrossEncoder);
    } finally {
      m.dispose();
    }
    const err = await loadRanker(dir, { family: 'gpt2' }).then(() => null, (e: unknown) => e);
    expect(err).to.be.instanceOf(InputError);
    expect((err as Error).message).to.match(/unknown ranker family 'gpt2' \(known: .*cross-encoder/);
  });

  it('a folder of an unknown architecture is an InputError naming config.json, model_type and the families', async () => {
    const dir = path.join(root, 'gpt2');
    fs.mkdirSync(dir);
    fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify({ model_type: 'gpt2' }));
    const err = await rerankCommand(['--model', dir, '--bm25-json', bm25File, '--out', path.join(root, 'x.run'), '--quiet']).then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).to.be.instanceOf(InputError);
    expect((err as InputError).message).to.match(/config\.json.*model_type.*"gpt2".*not a ranker rankdistill recognises/s);
    for (const f of rankerFamilies()) expect((err as InputError).message).to.include(`  ${f.name}: `);
  });

  it('a registered family is tried first', async () => {
    const { dir } = saved.get('cross-encoder')!;
    let loaded = 0;
    registerRankerFamily({
      name: 'test-marker',
      description: 'a folder with a TEST_MARKER file',
      detect: (f) => f.has('TEST_MARKER'),
      load: async (id, o) => {
        loaded++;
        return CrossEncoder.fromPretrained(id, { ...o, loadReport: false });
      },
      scoreFiles: () => ['model.safetensors'],
      maxLength: (r) => (r as CrossEncoder).maxLength,
    });
    expect(() => registerRankerFamily({ ...rankerFamilies()[0] })).to.throw(/already registered/);
    fs.writeFileSync(path.join(dir, 'TEST_MARKER'), '');
    try {
      const m = await loadRanker(dir);
      m.dispose();
      expect(loaded).to.equal(1);
    } finally {
      fs.rmSync(path.join(dir, 'TEST_MARKER'));
    }
  });

  it('a Hub id: config.json and the side files come through the HF cache, then the family loads it', async () => {
    const { dir, scores } = saved.get('rra-bert')!;
    const files: Record<string, Buffer> = {};
    for (const f of fs.readdirSync(dir)) files[f] = fs.readFileSync(path.join(dir, f));
    const server = new HubServer([{ id: 'test-org/tiny-rra-bert', commit: 'a'.repeat(40), files }]);
    const endpoint = await server.start();
    try {
      const cacheDir = tmpDir();
      const m = await loadRanker('test-org/tiny-rra-bert', { endpoint, cacheDir, progress: false });
      try {
        expect(m).to.be.instanceOf(RraBert);
        expectClose(await m.score(pairsOf(lists)), scores, 1e-6, 1e-6, 'rra-bert from the Hub');
      } finally {
        m.dispose();
      }
      expect(server.requests.some((r) => r.path.endsWith('/rra_config.json'))).to.equal(true);
    } finally {
      await server.close();
    }
  });
});

// The T5 scoring heads: inputs (templates, truncation), scores against the HF fixtures' first-step
// logits, and training of every head with the Trainer on a tiny teacher set.
import { expect } from 'chai';
import fs from 'node:fs';
import * as tf from '@tensorflow/tfjs-core';
import { T5Ranker, monoT5CrossEntropy, t5InputText, tokenCrossEntropy, type T5Head } from '../../src/models/t5/rankers.js';
import { getLoss } from '../../src/losses/registry.js';
import { TextTokenizer } from '../../src/tokenization/tokenizer.js';
import { listFromRanking, type TrainingList } from '../../src/data/lists.js';
import { Trainer } from '../../src/training/trainer.js';
import { dataPath, expectClose, expectNoLeak, tmpDir } from '../helpers.js';

const TOK_DIR = dataPath('t5-small-spiece');

interface Case {
  name: string;
  texts: string[];
  outputs: { logit_true_1176?: number[]; logit_false_6136?: number[]; logit_extra_id_10_32089?: number[]; log_softmax_true_over_true_false?: number[] };
}

function splitPrompt(t: string): [string, string] {
  const m = /^Query: (.*) Document: (.*) Relevant:$/s.exec(t);
  if (!m) throw new Error(`not a monoT5 prompt: ${t}`);
  return [m[1], m[2]];
}

describe('T5 rankers: inputs', () => {
  let tok: TextTokenizer;
  before(() => {
    tok = TextTokenizer.fromDir(TOK_DIR);
  });

  it('part-wise template ids equal the ids of the whole text (+ </s>)', async () => {
    const r = T5Ranker.create({ vocab_size: 32128, d_model: 8, d_kv: 4, d_ff: 8, num_layers: 1, num_heads: 2 }, { tokenizer: tok, head: 'monot5' });
    const pairs: Array<[string, string]> = [
      ['what is the boiling point of water', 'Water boils at 100 °C; at altitude it boils   at lower temperatures.'],
      ['  café  opening hours ', 'Le Café de l\'Homme est ouvert. ﬁve ①'],
      ['', 'empty query'],
      ['x', ''],
    ];
    for (const head of ['monot5', 'rankt5'] as T5Head[]) {
      const ranker = new T5Ranker(r.model, { tokenizer: tok, head });
      const got = await ranker.encodeIds(pairs);
      for (let i = 0; i < pairs.length; i++) {
        const want = (await tok.encode(t5InputText(head, ...pairs[i]))).ids;
        expect(got[i], `${head} ${JSON.stringify(pairs[i])}`).to.deep.equal(want);
      }
    }
    r.dispose();
  });

  it('truncates the document first and keeps `Relevant:` and </s>', async () => {
    const r = T5Ranker.create({ vocab_size: 32128, d_model: 8, d_kv: 4, d_ff: 8, num_layers: 1, num_heads: 2 }, { tokenizer: tok, head: 'twolar', maxLength: 20 });
    const [ids] = await r.encodeIds([['who wrote hamlet', 'Hamlet is a tragedy written by William Shakespeare sometime between 1599 and 1601.']]);
    expect(ids.length).to.equal(20);
    const rel = (await tok.encode('Relevant:', { addSpecialTokens: false })).ids;
    expect(ids.slice(-rel.length - 1)).to.deep.equal([...rel, 1]);
    const q = (await tok.encode('Query: who wrote hamlet Document:', { addSpecialTokens: false })).ids;
    expect(ids.slice(0, q.length)).to.deep.equal(q);
    r.dispose();
  });
});

for (const fixture of ['t5-tiny-random', 't5-v1_1-tiny-random']) {
  describe(`T5 rankers: scores from the HF fixture's first-step logits (${fixture})`, () => {
    const dir = dataPath('hf-fixtures', fixture);
    const cases = (JSON.parse(fs.readFileSync(`${dir}/expected.json`, 'utf8')) as { cases: Case[] }).cases.filter((c) => c.outputs.logit_true_1176);
    const pairs = cases.flatMap((c) => c.texts.map(splitPrompt));
    const pick = (f: (c: Case['outputs']) => number[] | undefined) => cases.flatMap((c) => f(c.outputs)!);
    const zt = pick((o) => o.logit_true_1176);
    const zf = pick((o) => o.logit_false_6136);
    const zx = pick((o) => o.logit_extra_id_10_32089);

    const want: Record<string, number[]> = {
      // log softmax([z_true, z_false])[0], from the reference logits (not every case lists it).
      monot5: zt.map((t, i) => -Math.log1p(Math.exp(zf[i] - t))),
      twolar: zt.map((t, i) => t - zf[i]),
      rankt5: zx,
    };
    for (const head of ['monot5', 'twolar', 'rankt5'] as T5Head[]) {
      it(`${head}`, async () => {
        const r = await T5Ranker.fromPretrained(dir, { tokenizer: TOK_DIR, head });
        // RankT5's template has no `Relevant:`, so its input differs from the fixture's: compare on the fixture's own ids.
        const scores = await expectNoLeak(async () => {
          if (head !== 'rankt5') return r.score(pairs);
          const tok = r.tokenizer;
          const rows = await Promise.all(cases.flatMap((c) => c.texts).map(async (t) => (await tok.encode(t)).ids));
          const b = r.batchTensors(rows);
          const s = r.forward(b, false);
          const v = Array.from(await s.data());
          tf.dispose([s, b.inputIds, b.attentionMask]);
          return v;
        }, `${head} score`);
        expectClose(scores, want[head], 1e-4, 1e-3, `${fixture} ${head}`);
        if (head === 'monot5') {
          const p = await new T5Ranker(r.model, { tokenizer: TOK_DIR, head, monoT5Score: 'prob' }).score(pairs);
          expectClose(p, want.monot5.map(Math.exp), 1e-5, 1e-3, 'P(true)');
        }
        r.dispose();
      });
    }
  });
}

describe('T5 rankers: loss helpers', () => {
  it('tokenCrossEntropy and monoT5CrossEntropy against hand values', () => {
    const ce = tf.tidy(() => Array.from(tokenCrossEntropy(tf.tensor2d([[1, 2, 3], [0, 0, 0]]), [2, 1]).dataSync()));
    const lse = Math.log(Math.exp(1) + Math.exp(2) + Math.exp(3));
    expectClose(ce, [lse - 3, Math.log(3)], 1e-6, 0, 'token CE');
    // log p = -0.5 (y = 1), log p = -2 (y = 0), padding ignored.
    const v = tf.tidy(() => monoT5CrossEntropy()(tf.tensor2d([[-0.5, -2, 5]]), tf.tensor2d([[1, 0, 1]]), tf.tensor2d([[1, 1, 0]])).loss.dataSync()[0]);
    expect(v).to.be.closeTo((0.5 - Math.log(1 - Math.exp(-2))) / 2, 1e-6);
  });
});

/** A tiny teacher set: each list's teacher order puts the documents that share words with the query first. */
function teacherLists(): TrainingList[] {
  const topics = [
    ['boiling water', ['water boils at one hundred degrees', 'boiling point of water drops with altitude', 'tea is made with hot water', 'the stock market fell today', 'cats sleep most of the day', 'a guitar has six strings']],
    ['capital of france', ['paris is the capital of france', 'france has many cities', 'berlin is the capital of germany', 'rivers flow to the sea', 'bread is baked in an oven', 'the moon orbits the earth']],
    ['python programming', ['python is a programming language', 'programming takes practice', 'snakes such as pythons are reptiles', 'mountains are tall', 'coffee contains caffeine', 'football is played with a ball']],
    ['heart disease', ['heart disease is a leading cause of death', 'exercise lowers the risk of disease', 'the heart pumps blood', 'winter is cold', 'trains run on rails', 'books have pages']],
  ] as const;
  return topics.map(([q, docs], i) => listFromRanking(`q${i}`, q, [...docs]));
}

/** Share of correctly ordered (teacher-preferred) pairs, over all lists. */
async function pairAccuracy(r: T5Ranker, lists: TrainingList[]): Promise<number> {
  let ok = 0;
  let n = 0;
  for (const l of lists) {
    const s = await r.score(l.docs.map((d) => [l.query, d] as [string, string]));
    for (let i = 0; i < s.length; i++) for (let j = 0; j < s.length; j++) if (l.labels[i] > l.labels[j]) {
      n++;
      if (s[i] > s[j]) ok++;
    }
  }
  return ok / n;
}

/** The loss at its optimum for one list (0 for RankNet; the label entropy for softmax CE, at scores = log labels). */
function lossFloor(name: string, labels: number[]): number {
  if (name === 'ranknet') return 0;
  return tf.tidy(() => {
    const y = tf.tensor2d([labels]);
    return getLoss(name)(tf.log(y) as tf.Tensor2D, y as tf.Tensor2D, tf.onesLike(y) as tf.Tensor2D).loss.dataSync()[0];
  });
}

describe('T5 rankers train with the Trainer', function () {
  this.timeout(300000);
  const small = { vocab_size: 32128, d_model: 32, d_kv: 8, d_ff: 64, num_layers: 2, num_heads: 4, dropout_rate: 0 };
  const runs: Array<{ head: T5Head; objective?: 'token-ce'; loss: string; ff: string }> = [
    { head: 'monot5', loss: 'ranknet', ff: 'relu' },
    { head: 'monot5', objective: 'token-ce', loss: 'ranknet', ff: 'gated-gelu' },
    { head: 'rankt5', loss: 'softmax_cross_entropy', ff: 'gated-gelu' },
    { head: 'rankt5-encoder', loss: 'softmax_cross_entropy', ff: 'relu' },
    { head: 'twolar', loss: 'ranknet', ff: 'gated-gelu' },
  ];
  for (const run of runs) {
    it(`${run.head}${run.objective ? ` (${run.objective})` : ''} with ${run.loss}: loss falls, training lists ordered better`, async () => {
      const tok = TextTokenizer.fromDir(TOK_DIR);
      const r = T5Ranker.create(
        { ...small, feed_forward_proj: run.ff, tie_word_embeddings: run.ff === 'relu' },
        { tokenizer: tok, head: run.head, objective: run.objective, relevantAbove: 0.3, seed: 3, pooling: 'first' },
      );
      const lists = teacherLists();
      const before = await pairAccuracy(r, lists);
      const trainer = new Trainer(r, { loss: run.loss, listSize: 6, listsPerBatch: 2, accumulationSteps: 1, epochs: 12, lr: 3e-3, schedule: 'constant', progress: false, seed: 5 });
      const before0 = tf.memory().numTensors;
      const res = await trainer.train(lists);
      trainer.dispose();
      expect(tf.memory().numTensors, 'tensors leaked by training').to.be.at.most(before0);
      const after = await pairAccuracy(r, lists);
      const first = res.losses.slice(0, 4).reduce((a, b) => a + b) / 4;
      const last = res.losses.slice(-4).reduce((a, b) => a + b) / 4;
      console.log(`      ${run.head}${run.objective ? `/${run.objective}` : ''}: loss ${first.toFixed(3)} → ${last.toFixed(3)}, pair accuracy ${before.toFixed(2)} → ${after.toFixed(2)} (${res.steps} steps, ${res.seconds.toFixed(1)} s)`);
      // Softmax CE against soft targets cannot go below the targets' entropy: compare the gap to that floor.
      const floor = run.objective ? 0 : lossFloor(run.loss, lists[0].labels);
      expect(last - floor).to.be.lessThan(0.5 * (first - floor));
      expect(after).to.be.greaterThan(before);
      // The token objective only separates label > 0.3 from the rest; ranking losses learn the full order.
      expect(after).to.be.greaterThan(run.objective ? 0.65 : 0.9);
      r.dispose();
    });
  }

  it('a trained ranker saves and reloads with its head and the same scores', async () => {
    const r = T5Ranker.create({ ...small, feed_forward_proj: 'relu' }, { tokenizer: TOK_DIR, head: 'rankt5-encoder', pooling: 'mean', seed: 9 });
    const pairs: Array<[string, string]> = [['a query', 'a document'], ['another query', 'text']];
    const dir = tmpDir();
    await r.save(dir);
    const back = await T5Ranker.fromPretrained(dir);
    expect(back.head).to.equal('rankt5-encoder');
    expect(back.opts.pooling).to.equal('mean');
    expect(await back.score(pairs)).to.deep.equal(await r.score(pairs));
    back.dispose();
    r.dispose();
  });
});

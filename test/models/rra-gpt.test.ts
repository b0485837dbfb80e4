// RRA-GPT: Reason-to-Rank reasons, the prompt, prompt-only scoring, the joint objective checked
// against independent computations, training through the Trainer, save/load, explain().
import { expect } from 'chai';
import * as tf from '@tensorflow/tfjs-core';
import { getLoss } from '../../src/losses/registry.js';
import { LlamaModel } from '../../src/models/llama/model.js';
import { passageReasons, readRraGptData, ReasonMap, rraGptDataFromRecords } from '../../src/models/rra-gpt/data.js';
import { RraGpt } from '../../src/models/rra-gpt/ranker.js';
import { TextTokenizer } from '../../src/tokenization/tokenizer.js';
import { Trainer } from '../../src/training/trainer.js';
import type { TrainingList } from '../../src/training/lists.js';
import { dataPath, expectClose, expectNoLeak, tmpDir } from '../helpers.js';

const R2R = dataPath('reason2rank-llm-listwise-teacher');
const TOK = dataPath('ms-marco-TinyBERT-L-2-v2-tokenizer-config');
const CONFIG = {
  vocab_size: 30522, hidden_size: 32, intermediate_size: 64, num_hidden_layers: 1, num_attention_heads: 2,
  num_key_value_heads: 1, max_position_embeddings: 256, rms_norm_eps: 1e-6, rope_theta: 10000,
  tie_word_embeddings: true, initializer_range: 0.1,
};

describe('RRA-GPT data (Reason-to-Rank reasons)', () => {
  it('splits a teacher answer into per-passage reasons in its several formats', () => {
    const a = '[2] > [1] > [3]\n\nReasoning:\n- Passage [1] directly answers the question.\n- [3] is off topic for this query.\n';
    expect(passageReasons(a, 3)).to.deep.equal(['directly answers the question.', null, 'is off topic for this query.']);
    const b = '[2] > [1]\n\n1. [2]: This passage explains the cause.\n   \n2. [1]: This passage lists symptoms, compared to [2].';
    expect(passageReasons(b, 2)).to.deep.equal(['This passage lists symptoms, compared to [2].', 'This passage explains the cause.']);
    const c = '[1] > [2]\n\n[1] is the most relevant as it defines it.\n\n[2] is less relevant as it only mentions [1].\n[2] again ignored.';
    expect(passageReasons(c, 2)).to.deep.equal(['is the most relevant as it defines it.', 'is less relevant as it only mentions [1].']);
    // Out-of-range ids and references far into a line are not reasons.
    expect(passageReasons('[9] is great and long enough\nthe best one is clearly [1] here', 2)).to.deep.equal([null, null]);
  });

  it('reads lists and reasons from the staged records, collecting invalid permutations', async function () {
    if (!(await import('node:fs')).existsSync(R2R)) this.skip();
    const d = await readRraGptData([`${R2R}/gpt-4/msmarco-train/msmarco_train_100.jsonl`]);
    // 200 records, some with invalid permutations (data README: 9 across files 100 and 200 of GPT-4).
    expect(d.lists.length + d.bad.length).to.equal(200);
    expect(d.bad.length).to.be.greaterThan(0);
    expect(d.bad[0].file).to.include('msmarco_train_100.jsonl');
    expect(d.bad[0].line).to.be.a('number');
    // Teacher order → labels 1/(rank+1): the best passage gets 1.
    for (const l of d.lists) {
      expect(l.docs.length).to.equal(5);
      expect([...l.labels].sort((x, y) => y - x)).to.deep.equal([1, 1 / 2, 1 / 3, 1 / 4, 1 / 5]);
    }
    expect(d.coverage.withReason / d.coverage.passages).to.be.greaterThan(0.8);
    const l = d.lists[0];
    expect(d.reasons.get(l.query, l.docs[0])).to.be.a('string');
  });

  it('keys reasons by (query, document) text', () => {
    const r = rraGptDataFromRecords([{ query: 'q', docs: ['a', 'b'], permutation: [1, 0], reason: '[2] > [1]\n[2] wins clearly here.\n[1] loses clearly here.', line: 1 }]);
    expect(r.lists[0].docs).to.deep.equal(['b', 'a']);
    expect(r.reasons.get('q', 'a')).to.equal('loses clearly here.');
    expect(r.reasons.get('q', 'b')).to.equal('wins clearly here.');
  });
});

describe('RRA-GPT ranker', () => {
  let tok: TextTokenizer;
  before(() => {
    tok = TextTokenizer.fromDir(TOK);
  });
  const pairs: Array<[string, string]> = [
    ['what causes rain', 'Rain forms when water vapour condenses into droplets heavy enough to fall.'],
    ['what causes rain', 'The stock market closed higher on Friday.'],
    ['what causes rain', 'Clouds are made of tiny droplets.'],
    ['who wrote hamlet', 'Hamlet is a tragedy by William Shakespeare, written around 1600, set in Denmark at Elsinore castle.'],
  ];

  it('builds the prompt: BOS, instruction, query, document cut to fit, answer cue last', async () => {
    const m = new RraGpt(CONFIG, { tokenizer: tok, maxPromptLength: 40, maxQueryTokens: 4 });
    const ids = await m.promptIds('what causes rain in the tropics at night', 'word '.repeat(100));
    expect(ids.length).to.equal(40);
    expect(ids[0]).to.equal(tok.tokenToId('[CLS]'));
    const cue = (await tok.encode('Relevant:', { addSpecialTokens: false })).ids;
    expect(ids.slice(-cue.length)).to.deep.equal(cue);
    const text = await tok.decode(ids);
    expect(text).to.include('query : what causes rain in document');
    m.dispose();
  });

  it('scores from the prompt only; batching and padding do not change a score', async () => {
    const m = new RraGpt(CONFIG, { tokenizer: tok, seed: 3 });
    const together = await expectNoLeak(() => m.score(pairs, { batchSize: 4 }), 'score');
    const alone = [];
    for (const p of pairs) alone.push((await m.score([p]))[0]);
    expectClose(together, alone, 1e-5, 1e-5, 'batched vs single scores');
    // Independent: the Llama forward on the prompt alone, then the ranking layer by hand.
    const ids = await m.promptIds(...pairs[3]);
    const want = tf.tidy(() => {
      const h = m.llama.forward({ inputIds: tf.tensor2d([ids], undefined, 'int32') }).lastHiddenState;
      const last = tf.slice(h, [0, ids.length - 1, 0], [1, 1, 32]);
      return tf.add(tf.sum(tf.mul(tf.reshape(last, [32]), tf.reshape(m.head.get('rank_head.weight'), [32]))), m.head.get('rank_head.bias')).dataSync()[0];
    });
    expect(together[3]).to.be.closeTo(want, 1e-5);
    m.dispose();
  });

  it('the joint objective equals L_rank + α·CE(answer) + β·CE(reason) computed independently', async () => {
    const reasons = new ReasonMap();
    reasons.set(...pairs[0], 'it explains condensation');
    reasons.set(...pairs[1], 'it is about finance');
    const m = new RraGpt(CONFIG, { tokenizer: tok, seed: 5, alpha: 0.7, beta: 0.3, reasons });
    // Two lists of 3 slots; the second has one padding slot. Labels: >0 relevant, 0 hard negative.
    const labels = tf.tensor2d([[1, 0, 0.5], [0, 1, 0]]);
    const mask = tf.tensor2d([[1, 1, 1], [1, 1, 0]]);
    const listPairs = [pairs[0], pairs[1], pairs[2], pairs[1], pairs[3]];
    const relevant = [true, false, true, false, true];
    const rankLoss = getLoss('ranknet');
    const batch = await m.encodeForTraining(listPairs);
    const got = await expectNoLeak(() => {
      const r = m.trainingLoss(batch, labels, mask, rankLoss);
      const out = { loss: r.loss.dataSync()[0], rank: r.components!.rank.dataSync()[0], cls: r.components!.cls.dataSync()[0], reason: r.components!.reason.dataSync()[0] };
      tf.dispose([r.loss, r.perList, ...Object.values(r.components!)]);
      return out;
    }, 'trainingLoss');
    // Rank: ranknet over prompt-only scores.
    const s = await m.score(listPairs);
    const want = tf.tidy(() => rankLoss(tf.tensor2d([[s[0], s[1], s[2]], [s[3], s[4], 0]]), labels, mask).loss.dataSync()[0]);
    expect(got.rank).to.be.closeTo(want, 1e-5);
    // CE of the answer token and of the reason tokens (+ [SEP]), by running the LM on each full sequence.
    const yes = (await tok.encode('yes', { addSpecialTokens: false })).ids;
    const no = (await tok.encode('no', { addSpecialTokens: false })).ids;
    const sep = tok.tokenToId('[SEP]')!;
    let cls = 0;
    let reasonSum = 0;
    let reasonCount = 0;
    for (let i = 0; i < listPairs.length; i++) {
      const prompt = await m.promptIds(...listPairs[i]);
      const ans = relevant[i] ? yes : no;
      const rText = reasons.get(...listPairs[i]);
      const rIds = rText ? [...(await tok.encode(rText, { addSpecialTokens: false })).ids, sep] : [];
      const seq = [...prompt, ...ans, ...rIds];
      // −log p(seq[t+1] | seq[..t]) for every t, picked inside tf (the vocabulary is 30k wide).
      const nlls = tf.tidy(() => {
        const logits = m.llama.logits(m.llama.forward({ inputIds: tf.tensor2d([seq], undefined, 'int32') }).lastHiddenState) as tf.Tensor3D;
        const logp = tf.reshape(tf.logSoftmax(logits), [-1]);
        const idx = seq.slice(1).map((next, t) => t * logits.shape[2] + next);
        return Array.from(tf.neg(tf.gather(logp, tf.tensor1d(idx, 'int32'))).dataSync());
      });
      const nll = (t: number) => nlls[t];
      cls += nll(prompt.length - 1) / listPairs.length;
      for (let t = prompt.length; t < seq.length - 1; t++) {
        reasonSum += nll(t);
        reasonCount++;
      }
    }
    expect(got.cls).to.be.closeTo(cls, 1e-4);
    expect(got.reason).to.be.closeTo(reasonSum / reasonCount, 1e-4);
    expect(got.loss).to.be.closeTo(got.rank + 0.7 * got.cls + 0.3 * got.reason, 1e-5);
    m.disposeBatch(batch);
    tf.dispose([labels, mask]);
    m.dispose();
  });

  it('trains through the Trainer: the joint loss falls and its components are logged', async () => {
    const reasons = new ReasonMap();
    const lists: TrainingList[] = [];
    for (let q = 0; q < 4; q++) {
      const query = ['what causes rain', 'who wrote hamlet', 'how do magnets work', 'when did rome fall'][q];
      const docs = [`${query} is explained here in detail`, 'unrelated text about cooking pasta', 'a short note on football scores'];
      docs.forEach((d, i) => reasons.set(query, d, i === 0 ? 'it answers the query' : 'it is off topic'));
      lists.push({ qid: `q${q}`, query, docs, labels: [1, 0, 0] });
    }
    const m = new RraGpt(CONFIG, { tokenizer: tok, seed: 7, reasons });
    const logs: Array<Record<string, number | string>> = [];
    const trainer = new Trainer(m, { loss: 'ranknet', listSize: 3, listsPerBatch: 2, epochs: 12, lr: 1e-2, schedule: 'constant', progress: false, onLog: (r) => logs.push(r) });
    const res = await trainer.train(lists);
    trainer.dispose();
    const first = (res.losses[0] + res.losses[1]) / 2;
    const last = (res.losses.at(-1)! + res.losses.at(-2)!) / 2;
    expect(last).to.be.lessThan(0.6 * first);
    const rec = logs.find((r) => r.type === 'train')!;
    for (const k of ['rank', 'cls', 'reason']) expect(rec[k], k).to.be.a('number');
    const s = await m.score(lists.map((l) => [l.query, l.docs[0]] as [string, string]).concat(lists.map((l) => [l.query, l.docs[1]] as [string, string])));
    for (let i = 0; i < 4; i++) expect(s[i], `relevant doc of list ${i} above the negative`).to.be.greaterThan(s[4 + i]);
    const ex = await expectNoLeak(() => m.explain(lists[0].query, lists[0].docs[0], { maxNewTokens: 8 }), 'explain');
    expect(ex.answer).to.equal('yes');
    expect(ex.score).to.be.closeTo(s[0], 1e-5);
    // Save → load: same scores; the checkpoint also loads as a plain Llama model.
    const dir = tmpDir();
    await m.save(dir);
    const back = RraGpt.fromDir(dir);
    expectClose(await back.score(lists.map((l) => [l.query, l.docs[0]] as [string, string])), s.slice(0, 4), 1e-6, 0, 'reloaded scores');
    expect(back.alpha).to.equal(1);
    LlamaModel.fromDir(dir).dispose();
    back.dispose();
    m.dispose();
  });
});

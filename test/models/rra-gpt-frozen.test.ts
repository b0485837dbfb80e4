// RRA-GPT with only its top layers trained (trainLayers): the cached frozen-layer outputs give the
// same scores and the same joint loss as running the whole decoder; training moves only the top
// layers; a cache refuses a model with other frozen weights. Also the zero-shot LM-head answer score
// against a direct log-softmax, and chat-template prompts.
import { expect } from 'chai';
import * as tf from '@tensorflow/tfjs-core';
import { getLoss } from '../../src/losses/registry.js';
import { LlamaModel } from '../../src/models/llama/model.js';
import { ReasonMap } from '../../src/models/rra-gpt/reasons.js';
import { FrozenStateCache } from '../../src/models/rra-gpt/frozen-cache.js';
import { RraGpt } from '../../src/models/rra-gpt/ranker.js';
import { TextTokenizer } from '../../src/tokenization/tokenizer.js';
import { Trainer } from '../../src/training/trainer.js';
import type { TrainingList } from '../../src/data/lists.js';
import { dataPath, expectClose, expectNoLeak } from '../helpers.js';

const TOK = dataPath('ms-marco-TinyBERT-L-2-v2-tokenizer-config');
const CONFIG = {
  vocab_size: 30522, hidden_size: 32, intermediate_size: 64, num_hidden_layers: 3, num_attention_heads: 2,
  num_key_value_heads: 1, max_position_embeddings: 256, rms_norm_eps: 1e-6, rope_theta: 10000,
  tie_word_embeddings: true, initializer_range: 0.1,
};
const PAIRS: Array<[string, string]> = [
  ['what causes rain', 'Rain forms when water vapour condenses into droplets heavy enough to fall.'],
  ['what causes rain', 'The stock market closed higher on Friday.'],
  ['who wrote hamlet', 'Hamlet is a tragedy by William Shakespeare.'],
  ['who wrote hamlet', 'Clouds are made of tiny droplets.'],
];

describe('RRA-GPT with frozen lower layers (trainLayers)', () => {
  let tok: TextTokenizer;
  const reasons = new ReasonMap();
  before(() => {
    tok = TextTokenizer.fromDir(TOK);
    reasons.set(...PAIRS[0], 'it explains condensation');
    reasons.set(...PAIRS[2], 'it names the author');
  });

  it('scores and the joint loss equal the full decoder run; precomputed rows are cache hits', async () => {
    const full = new RraGpt(CONFIG, { tokenizer: tok, seed: 3, reasons, alpha: 0.5, beta: 0.5 });
    const top = new RraGpt(CONFIG, { tokenizer: tok, seed: 3, reasons, alpha: 0.5, beta: 0.5, trainLayers: 1 });
    expect(top.frozenCache!.layer).to.equal(2);
    expectClose(await top.score(PAIRS), await full.score(PAIRS), 1e-5, 1e-5, 'scores');
    const labels = [1, 0, 1, 0];
    await top.precomputeFrozen(PAIRS, labels);
    const computed = top.frozenCache!.computed;
    const labelsT = tf.tensor2d([labels]);
    const mask = tf.tensor2d([[1, 1, 1, 1]]);
    const loss = async (m: RraGpt) => {
      const batch = await m.encodeForTraining(PAIRS);
      const r = await expectNoLeak(() => {
        const out = m.trainingLoss(batch, labelsT, mask, getLoss('ranknet'));
        const v = { loss: out.loss.dataSync()[0], cls: out.components!.cls.dataSync()[0], reason: out.components!.reason.dataSync()[0] };
        tf.dispose([out.loss, out.perList, ...Object.values(out.components!)]);
        return v;
      }, 'trainingLoss');
      m.disposeBatch(batch);
      return r;
    };
    const a = await loss(full);
    const b = await loss(top);
    expect(b.loss).to.be.closeTo(a.loss, 1e-5);
    expect(b.cls).to.be.closeTo(a.cls, 1e-5);
    expect(b.reason).to.be.closeTo(a.reason, 1e-5);
    // Prompt + answer + reason rows were computed once by precomputeFrozen; the loss only read them.
    expect(top.frozenCache!.computed).to.equal(computed);
    expect(top.frozenCache!.hits).to.be.greaterThan(0);
    tf.dispose([labelsT, mask]);
    full.dispose();
    top.dispose();
  });

  it('training moves only the top layers, the final norm and the ranking layer', async () => {
    const lists: TrainingList[] = [
      { qid: 'a', query: PAIRS[0][0], docs: [PAIRS[0][1], PAIRS[1][1]], labels: [1, 0] },
      { qid: 'b', query: PAIRS[2][0], docs: [PAIRS[2][1], PAIRS[3][1]], labels: [1, 0] },
    ];
    const parent = new RraGpt(CONFIG, { tokenizer: tok, seed: 5, reasons, trainLayers: 1 });
    // A fork starts from the parent's weights (shared buffers) with its own ranking layer and the same cache.
    const m = parent.fork({ seed: 6, alpha: 0.5 });
    expect(m.frozenCache).to.equal(parent.frozenCache);
    expect(m.alpha).to.equal(0.5);
    expect(m.reasons).to.equal(reasons);
    const parentWeights = new Map(parent.llama.params.names().map((n) => [n, parent.llama.params.get(n).dataSync().slice()]));
    const names = [...m.trainableVariables().keys()];
    expect(names.every((n) => n.startsWith('model.layers.2.') || n === 'model.norm.weight' || n.startsWith('rank_head.'))).to.equal(true);
    const before = new Map(m.llama.params.names().map((n) => [n, m.llama.params.get(n).dataSync().slice()]));
    const trainer = new Trainer(m, { loss: 'ranknet', listSize: 2, listsPerBatch: 2, epochs: 3, lr: 1e-2, progress: false });
    await trainer.train(lists);
    trainer.dispose();
    for (const n of m.llama.params.names()) {
      const same = m.llama.params.get(n).dataSync().every((v, i) => v === before.get(n)![i]);
      expect(same, n).to.equal(!(n.startsWith('model.layers.2.') || n === 'model.norm.weight'));
      // Training the fork leaves the parent as it was.
      expect(Array.from(parent.llama.params.get(n).dataSync()), `parent ${n}`).to.deep.equal(Array.from(parentWeights.get(n)!));
    }
    m.dispose();
    expect(await parent.score(PAIRS)).to.have.length(4); // the parent's shared tensors outlive the fork
    parent.dispose();
  });

  it('a shared cache refuses a model whose frozen weights differ', async () => {
    const cache = new FrozenStateCache(2);
    const a = new RraGpt(CONFIG, { tokenizer: tok, seed: 1, trainLayers: 1, frozenCache: cache });
    const b = new RraGpt(CONFIG, { tokenizer: tok, seed: 1, trainLayers: 1, frozenCache: cache });
    const c = new RraGpt(CONFIG, { tokenizer: tok, seed: 2, trainLayers: 1, frozenCache: cache });
    const s = await a.score(PAIRS.slice(0, 2));
    expectClose(await b.score(PAIRS.slice(0, 2)), s, 0, 0, 'same base, shared cache');
    let err = '';
    try {
      await c.score(PAIRS.slice(2));
    } catch (e) {
      err = (e as Error).message;
    }
    expect(err).to.include('different frozen weights');
    expect(() => new RraGpt(CONFIG, { tokenizer: tok, trainLayers: 2, frozenCache: cache })).to.throw('holds layer 2, not 1');
    expect(() => new RraGpt(CONFIG, { tokenizer: tok, trainLayers: 4 })).to.throw('trainLayers must be 1..3');
    [a, b, c].forEach((m) => m.dispose());
  });

  it("the zero-shot answer score is log P(first token of 'yes') at the prompt's last token", async () => {
    const m = new RraGpt(CONFIG, { tokenizer: tok, seed: 9 });
    const got = await expectNoLeak(() => m.score(PAIRS, { by: 'answer' }), 'answer score');
    const yes = (await tok.encode('yes', { addSpecialTokens: false })).ids[0];
    for (let i = 0; i < PAIRS.length; i++) {
      const ids = await m.promptIds(...PAIRS[i]);
      const want = tf.tidy(() => {
        const h = m.llama.forward({ inputIds: tf.tensor2d([ids], undefined, 'int32') }).lastHiddenState;
        const logits = m.llama.logits(tf.slice(h, [0, ids.length - 1, 0], [1, 1, 32]));
        return tf.logSoftmax(tf.reshape(logits, [1, -1])).dataSync()[yes];
      });
      expect(got[i]).to.be.closeTo(want, 1e-5);
    }
    m.dispose();
  });

  it('with a chat template: instruction as system turn, the rest as user turn, assistant turn opened', async () => {
    const tpl = "{% for m in messages %}<{{ m['role'] }}>{{ m['content'] }}</{{ m['role'] }}>{% endfor %}{% if add_generation_prompt %}<assistant>{% endif %}";
    const llama = new LlamaModel(CONFIG, 4);
    const m = new RraGpt(llama, { tokenizer: tok, chatTemplate: tpl });
    expect(m.llama).to.equal(llama);
    const ids = await m.promptIds('what causes rain', 'Rain forms.');
    const text = await tok.decode(ids);
    expect(text).to.equal(
      await tok.decode((await tok.encode(`<system>${m.template.instruction}</system><user>Query: what causes rain\nDocument: Rain forms.\nRelevant:</user><assistant>`, { addSpecialTokens: false })).ids),
    );
    m.dispose();
    expect(llama.params.size).to.equal(0); // the ranker owned and disposed it
  });
});

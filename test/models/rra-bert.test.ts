// RRA-BERT: Token Selection on hand-made vectors with known cosines, the TCL pooling variants
// against hand-computed values, gradients (into the encoder from the TCL loss, none through the
// selection), the training objective's components, and the inference path without the TCL.
import { expect } from 'chai';
import fc from 'fast-check';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { getLoss } from '../../src/losses/registry.js';
import { CrossEncoder } from '../../src/models/cross-encoder.js';
import { RraBert, selectTokens, selectTokensFromTensor, TermControlLayer, type SelectionTokens } from '../../src/models/rra-bert/index.js';
import { Trainer } from '../../src/training/trainer.js';
import { dataPath, expectClose, expectNoLeak, tmpDir } from '../helpers.js';

const CLS = 101;
const SEP = 102;
const PAD = 0;
const SPECIAL = [CLS, SEP, PAD];

// [CLS] q1 q2 [SEP] d1 d2 d3 d4 [SEP] [PAD]; d4 has q2's id. Specials and padding get vectors equal
// to q1, so only the rules can keep them out.
const IDS = [CLS, 11, 12, SEP, 21, 22, 23, 12, SEP, PAD];
const TYPES = [0, 0, 0, 0, 1, 1, 1, 1, 1, 0];
const ATT = [1, 1, 1, 1, 1, 1, 1, 1, 1, 0];
const VECS = [
  [1, 0], // [CLS]
  [1, 0], // q1
  [0, 1], // q2
  [1, 0], // [SEP]
  [1, 1], // d1: cos 0.7071 to both (tie → q1)
  [1, 0.1], // d2: cos 1/√1.01 = 0.99504 to q1
  [-1, 0], // d3: cos -1 to q1, 0 to q2
  [-1, 0], // d4: exact match of q2, cos 0
  [1, 0], // [SEP]
  [1, 0], // [PAD]
];
const TOKENS: SelectionTokens = { inputIds: IDS, tokenTypeIds: TYPES, attentionMask: ATT, batch: 1, seqLen: IDS.length };
const flat = VECS.flat();
const C_D2 = 1 / Math.sqrt(1.01);
const C_D1 = Math.SQRT1_2;

describe('RRA-BERT Token Selection', () => {
  it('threshold: selects tokens whose best cosine reaches τ, with the matched query token and similarity', () => {
    const s = selectTokens(flat, 2, TOKENS, SPECIAL, { threshold: 0.9 });
    expect(Array.from(s.mask)).to.deep.equal([0, 0, 0, 0, 0, 1, 0, 1, 0, 0]);
    expect(Array.from(s.matched)).to.deep.equal([-1, -1, -1, -1, -1, 1, -1, 2, -1, -1]);
    expect(Array.from(s.nearest)).to.deep.equal([-1, -1, -1, -1, 1, 1, 2, 2, -1, -1]);
    expect(Array.from(s.reason)).to.deep.equal([0, 0, 0, 0, 0, 2, 0, 1, 0, 0]);
    expectClose(Array.from(s.similarity).slice(4, 8), [C_D1, C_D2, 0, 0], 1e-6, 0, 'similarity');
    const lower = selectTokens(flat, 2, TOKENS, SPECIAL, { threshold: 0.7 });
    expect(Array.from(lower.mask)).to.deep.equal([0, 0, 0, 0, 1, 1, 0, 1, 0, 0]);
    expect(lower.matched[4]).to.equal(1);
  });

  it('top-k per query token (threshold off) and exact matches always selected', () => {
    const s = selectTokens(flat, 2, TOKENS, SPECIAL, { threshold: null, topK: 1 });
    // q1's best doc token is d2 (0.995); q2's is d1 (0.707); d4 is an exact match of q2.
    expect(Array.from(s.mask)).to.deep.equal([0, 0, 0, 0, 1, 1, 0, 1, 0, 0]);
    expect(Array.from(s.reason).slice(4, 8)).to.deep.equal([3, 3, 0, 1]);
    expect(s.matched[4]).to.equal(2);
    expect(s.matched[5]).to.equal(1);
    // q2's cosines: d1 0.707, d2 0.0995, d3 0, d4 0; so top-2 adds nothing, top-3 adds d3 (ties keep document order).
    const two = selectTokens(flat, 2, TOKENS, SPECIAL, { threshold: null, topK: 2 });
    expect(Array.from(two.mask)).to.deep.equal([0, 0, 0, 0, 1, 1, 0, 1, 0, 0]);
    const three = selectTokens(flat, 2, TOKENS, SPECIAL, { threshold: null, topK: 3 });
    expect(Array.from(three.mask)).to.deep.equal([0, 0, 0, 0, 1, 1, 1, 1, 0, 0]);
    expect(three.matched[6]).to.equal(1);
    const none = selectTokens(flat, 2, TOKENS, SPECIAL, { threshold: null, topK: 0, exactMatch: false });
    expect(Array.from(none.mask).every((v) => v === 0)).to.equal(true);
    const exactOnly = selectTokens(flat, 2, TOKENS, SPECIAL, { threshold: null });
    expect(Array.from(exactOnly.mask)).to.deep.equal([0, 0, 0, 0, 0, 0, 0, 1, 0, 0]);
  });

  it('never selects special tokens, padding or query tokens (random vectors and ids)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 3 }),
        fc.integer({ min: 4, max: 12 }),
        fc.integer({ min: 1, max: 1000 }),
        fc.double({ min: -1, max: 1, noNaN: true }),
        fc.integer({ min: 0, max: 3 }),
        (B, S, seed, threshold, topK) => {
          let x = seed;
          const rnd = () => ((x = (Math.imul(x, 1103515245) + 12345) >>> 0) / 2 ** 32);
          const n = B * S;
          const ids = Array.from({ length: n }, () => [CLS, SEP, PAD, 5, 6, 7][Math.floor(rnd() * 6)]);
          const types = Array.from({ length: n }, (_, i) => (i % S < S / 2 ? 0 : 1));
          const att = Array.from({ length: n }, () => (rnd() < 0.8 ? 1 : 0));
          const vecs = Array.from({ length: n * 3 }, () => rnd() - 0.5);
          const s = selectTokens(vecs, 3, { inputIds: ids, tokenTypeIds: types, attentionMask: att, batch: B, seqLen: S }, SPECIAL, { threshold, topK });
          for (let i = 0; i < n; i++) {
            if (SPECIAL.includes(ids[i]) || att[i] === 0 || types[i] === 0) expect(s.mask[i], `position ${i}`).to.equal(0);
            if (s.mask[i]) {
              const q = (i - (i % S)) + s.matched[i];
              expect(types[q]).to.equal(0);
              expect(SPECIAL.includes(ids[q]) || att[q] === 0).to.equal(false);
            }
          }
        },
      ),
      { numRuns: 200, seed: 7 },
    );
  });

  it('the mask is a constant for autodiff: d/dx Σ mask(x)·x equals the mask', async () => {
    await expectNoLeak(() => {
      const x = tf.tensor3d(flat, [1, IDS.length, 2]);
      const mask = selectTokens(flat, 2, TOKENS, SPECIAL, { threshold: 0.9 }).mask;
      const g = tf.grad((v: tf.Tensor) => {
        const m = selectTokensFromTensor(v as tf.Tensor3D, TOKENS, SPECIAL, { threshold: 0.9 }).mask;
        return tf.sum(tf.mul(tf.expandDims(m, 2), v));
      })(x);
      expectClose(g.dataSync(), Array.from(mask).flatMap((m) => [m, m]), 0, 0, 'gradient');
      tf.dispose([x, g]);
    }, 'selection gradient');
  });
});

describe('RRA-BERT Term Control Layer', () => {
  // hidden [1, 4, 2]; tokens 1 and 3 selected.
  const H = [
    [0.5, -1],
    [1, 2],
    [3, 0],
    [-1, 4],
  ];
  const MASK = [0, 1, 0, 1];

  it('masked mean and attention pooling match hand-computed values; empty selection pools to 0', () => {
    const mean = new TermControlLayer({ hiddenSize: 2, pooling: 'mean' });
    const att = new TermControlLayer({ hiddenSize: 2, pooling: 'attention' });
    tf.tidy(() => {
      const h = tf.tensor3d([H], [1, 4, 2]);
      expectClose(mean.pool(h, tf.tensor2d([MASK])).dataSync(), [0, 3], 1e-6, 0, 'mean pool');
      att.params.get('tcl.attention.query').assign(tf.tensor1d([0.3, -0.2]));
      // logits h·q/√2 of tokens 1, 3: (0.3 − 0.4)/√2, (−0.3 − 0.8)/√2.
      const a1 = Math.exp(-0.1 / Math.SQRT2);
      const a3 = Math.exp(-1.1 / Math.SQRT2);
      const w1 = a1 / (a1 + a3);
      const w3 = a3 / (a1 + a3);
      expectClose(att.pool(h, tf.tensor2d([MASK])).dataSync(), [w1 * 1 + w3 * -1, w1 * 2 + w3 * 4], 1e-6, 0, 'attention pool');
      expectClose(att.pool(h, tf.zeros([1, 4])).dataSync(), [0, 0], 0, 0, 'empty attention pool');
      expectClose(mean.pool(h, tf.zeros([1, 4])).dataSync(), [0, 0], 0, 0, 'empty mean pool');
    });
    mean.dispose();
    att.dispose();
  });
});

const TOK_DIR = dataPath('ms-marco-TinyBERT-L-2-v2-tokenizer-config');
const SMALL = { hidden_size: 32, num_hidden_layers: 2, num_attention_heads: 2, intermediate_size: 64, max_position_embeddings: 64 };
const PAIRS: Array<[string, string]> = [
  ['boiling point of water', 'Water boils at 100 degrees at sea level.'],
  ['boiling point of water', 'The capital of France is Paris.'],
  ['boiling point of water', 'At altitude the boiling temperature of water is lower.'],
  ['who wrote hamlet', 'Hamlet is a tragedy by William Shakespeare.'],
  ['who wrote hamlet', 'Photosynthesis turns light into chemical energy.'],
];
// Two lists of three slots; the second list has one padding slot.
const LABELS = [
  [2, 0, 1],
  [1, 0, 0],
];
const MASK2 = [
  [1, 1, 1],
  [1, 1, 0],
];

describe('RRA-BERT model', function () {
  this.timeout(120000);

  it('gradients of the TCL loss reach the encoder but not the [CLS] head, and do not pass through the selection', async () => {
    for (const source of ['embeddings', 1] as const) {
      const model = new RraBert(SMALL, { tokenizer: TOK_DIR, seed: 3, rra: { selection: { source, threshold: 0.1 }, tclDropout: 0 } });
      const batch = await model.encodeForTraining(PAIRS);
      const vars = model.trainableVariables();
      await expectNoLeak(() => {
        const names = [...vars.keys()];
        const list = [...vars.values()];
        const { value, grads } = tf.variableGrads(() => tf.sum(model.forwardWithTcl(batch, false).t), list);
        value.dispose();
        const byName = new Map(names.map((n, i) => [n, grads[list[i].name]]));
        const norm = (n: string) => (byName.get(n) ? tf.tidy(() => tf.norm(byName.get(n)!).dataSync()[0]) : 0);
        expect(norm('bert.encoder.layer.0.attention.self.query.weight'), `${source}: encoder gradient`).to.be.greaterThan(0);
        expect(norm('bert.embeddings.word_embeddings.weight')).to.be.greaterThan(0);
        expect(norm('tcl.dense.weight')).to.be.greaterThan(0);
        expect(norm('classifier.weight')).to.equal(0);
        expect(norm('bert.pooler.dense.weight')).to.equal(0);
        // The same loss with the selection mask fixed in advance gives identical gradients: none
        // flows through the selection, even when it is computed on the trained embeddings/states.
        const sel = model.forwardWithTcl(batch, false);
        tf.dispose([sel.s, sel.t]);
        const fixed = tf.variableGrads(() => {
          const out = model.encoder.bert.forward(batch);
          return tf.sum(model.tcl.forward(out.lastHiddenState, tf.tensor2d(sel.selection.mask, [PAIRS.length, batch.tokens.seqLen])));
        }, list);
        for (let i = 0; i < names.length; i++) {
          const a = grads[list[i].name];
          const b = fixed.grads[list[i].name];
          if (!a || !b) continue;
          expectClose(a.dataSync(), b.dataSync(), 1e-6, 1e-5, `${source}: ${names[i]}`);
        }
        tf.dispose(Object.values(grads));
        tf.dispose(Object.values(fixed.grads));
        fixed.value.dispose();
      }, 'gradient check');
      model.disposeBatch(batch);
      model.dispose();
    }
  });

  it('trainingLoss = L(s) + λ·L(t) + μ·L(s + t), with components, on a padded list batch', async () => {
    const model = new RraBert(SMALL, { tokenizer: TOK_DIR, seed: 5, rra: { lambda: 0.5, combinedWeight: 0.25, pooling: 'attention', tclDropout: 0 } });
    const loss = getLoss('ranknet');
    const batch = await model.encodeForTraining(PAIRS);
    await expectNoLeak(() => {
      tf.tidy(() => {
        const labels = tf.tensor2d(LABELS);
        const mask = tf.tensor2d(MASK2);
        // The reference replays the same training pass (same dropout seeds) and applies the losses by hand.
        const st = model.rngState();
        const r = model.trainingLoss(batch, labels, mask, loss);
        model.setRngState(st);
        const { s, t } = model.forwardWithTcl(batch, true);
        const lists = (x: tf.Tensor1D) => {
          const v = x.dataSync();
          return tf.tensor2d([
            [v[0], v[1], v[2]],
            [v[3], v[4], 0],
          ]);
        };
        const S = lists(s);
        const T = lists(t);
        const ls = loss(S, labels, mask).loss.dataSync()[0];
        const lt = loss(T, labels, mask).loss.dataSync()[0];
        const lst = loss(tf.add(S, T) as tf.Tensor2D, labels, mask).loss.dataSync()[0];
        expectClose([r.components!.rank_s.dataSync()[0], r.components!.rank_t.dataSync()[0], r.components!.rank_st.dataSync()[0]], [ls, lt, lst], 1e-6, 1e-6, 'components');
        expectClose(r.loss.dataSync(), [ls + 0.5 * lt + 0.25 * lst], 1e-6, 1e-6, 'loss');
        expect(r.perList.shape).to.deep.equal([2]);
        expect(r.components!.selected.dataSync()[0]).to.be.greaterThan(0);
      });
    }, 'trainingLoss');
    model.disposeBatch(batch);
    model.dispose();
  });

  it('dropping the TCL at inference leaves the [CLS] scores unchanged (1e-6), also after save/load as a plain cross-encoder', async () => {
    const model = new RraBert(SMALL, { tokenizer: TOK_DIR, seed: 9, rra: { pooling: 'attention' } });
    // One Trainer step so the weights are trained ones, with the components logged.
    const logged: Array<Record<string, number | string>> = [];
    const lists = [
      { qid: 'a', query: PAIRS[0][0], docs: PAIRS.slice(0, 3).map((p) => p[1]), labels: [2, 0, 1] },
      { qid: 'b', query: PAIRS[3][0], docs: PAIRS.slice(3).map((p) => p[1]), labels: [1, 0] },
    ];
    const trainer = new Trainer(model, { loss: 'softmax_cross_entropy', listSize: 3, listsPerBatch: 2, maxSteps: 2, epochs: 2, lr: 1e-3, progress: false, onLog: (r) => logged.push(r) });
    await trainer.train(lists);
    trainer.dispose();
    expect(logged.some((r) => typeof r.rank_t === 'number' && typeof r.rank_s === 'number')).to.equal(true);
    const plain = await model.score(PAIRS);
    const withTcl = await model.scoreWithTcl(PAIRS);
    expectClose(withTcl.s, plain, 1e-6, 0, '[CLS] score with vs without TCL');
    const dir = path.join(tmpDir(), 'rra');
    await model.save(dir);
    const ce = await CrossEncoder.fromPretrained(dir);
    expectClose(await ce.score(PAIRS), plain, 1e-6, 0, 'reloaded as CrossEncoder');
    ce.dispose();
    const back = await RraBert.fromPretrained(dir);
    expect(back.rra.pooling).to.equal('attention');
    expectClose((await back.scoreWithTcl(PAIRS)).t, withTcl.t, 1e-6, 0, 'TCL score after reload');
    back.dispose();
    const rows = await model.inspect('boiling water', 'water boils at 100 degrees');
    expect(rows.find((r) => r.token === 'water' && r.segment === 'document')?.selected).to.equal(true);
    expect(rows.filter((r) => r.segment !== 'document').every((r) => !r.selected)).to.equal(true);
    model.dispose();
  });
});

describe('RRA-BERT configuration and inspect-selection CLI', function () {
  this.timeout(120000);

  it('rejects a bad selection config naming the field', () => {
    expect(() => selectTokens(flat, 2, TOKENS, SPECIAL, { threshold: 2 })).to.throw(/selection\.threshold/);
    expect(() => selectTokens(flat, 2, TOKENS, SPECIAL, { topK: -1 })).to.throw(/selection\.topK/);
    expect(() => new RraBert(SMALL, { rra: { selection: { source: 3 } } })).to.throw(/layer 0…2/);
  });

  it('prints every token with its selection, matched query token and cosine', async () => {
    const { run } = await import('../../src/cli/commands/inspect-selection.js');
    const lines: string[] = [];
    const orig = console.log;
    console.log = (...a: unknown[]) => void lines.push(a.join(' '));
    try {
      expect(await run(['--query', 'boiling water', '--doc', 'water boils', '--model', 'random', '--tokenizer', TOK_DIR, '--threshold', 'none'])).to.equal(0);
    } finally {
      console.log = orig;
    }
    const row = lines.find((l) => /\bwater\b.*document/.test(l))!;
    expect(row).to.match(/\*\s+exact\s+water\s+1\.0000/);
    expect(lines.at(-1)).to.match(/^1 of \d+ document tokens selected$/);
  });
});

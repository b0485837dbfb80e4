// The cross-encoder's mean-pooling head: the classifier reads the masked mean of the last token
// states; the choice is saved in config.json under `rankdistill.pooling` (transformers ignores it).
import { expect } from 'chai';
import fs from 'node:fs';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { CrossEncoder } from '../../src/models/cross-encoder.js';
import { batchToTensors } from '../../src/tokenization/tokenizer.js';
import { Trainer } from '../../src/training/trainer.js';
import { InputError } from '../../src/utils/errors.js';
import { dataPath, expectClose, expectNoLeak, tmpDir } from '../helpers.js';
import { runPeer } from '../peer.js';

const PAIRS: Array<[string, string]> = [
  ['what is the boiling point of water', 'Water boils at 100 °C at sea level, and at lower temperatures at altitude.'],
  ['who wrote hamlet', 'Hamlet is a tragedy by Shakespeare.'],
  ['define photosynthesis', 'Photosynthesis is the process by which green plants use sunlight, water and carbon dioxide to make sugar and oxygen.'],
];

const SMALL = { hidden_size: 32, num_hidden_layers: 2, num_attention_heads: 4, intermediate_size: 64, max_position_embeddings: 128 };
const tokDir = dataPath('ms-marco-TinyBERT-L-2-v2-tokenizer-config');

function perturbed(pooling: 'cls' | 'mean'): CrossEncoder {
  const m = new CrossEncoder(SMALL, { tokenizer: tokDir, seed: 5, pooling });
  // Non-trivial biases and LayerNorms so every weight shows in the scores.
  tf.tidy(() => {
    for (const [, v] of m.trainableVariables()) v.assign(tf.add(v, tf.randomNormal(v.shape, 0, 0.05, 'float32', 9)));
  });
  return m;
}

const PY_LOAD = `
import json, sys, torch
from transformers import AutoModelForSequenceClassification
model, info = AutoModelForSequenceClassification.from_pretrained(sys.argv[1], output_loading_info=True, attn_implementation="eager")
b = json.loads(open(sys.argv[2]).read())
with torch.no_grad():
    out = model.eval()(input_ids=torch.tensor(b["ids"]), token_type_ids=torch.tensor(b["types"]), attention_mask=torch.tensor(b["mask"]))
print(json.dumps({"logits": out.logits.flatten().tolist(), "missing": list(info["missing_keys"]), "unexpected": list(info["unexpected_keys"])}))
`;

describe('CrossEncoder pooling option (mean-pooled head)', function () {
  this.timeout(300000);

  it("'mean': the score is the classifier applied to the masked mean of the last token states; padding does not leak", async () => {
    const m = perturbed('mean');
    const enc = await m.encode(PAIRS);
    const got = await m.score(PAIRS, { batchSize: 3 });
    const want = tf.tidy(() => {
      const t = batchToTensors(enc);
      const h = m.bert.forward(t).lastHiddenState.arraySync() as number[][][];
      const w = m.bert.params.get('classifier.weight').arraySync() as number[][];
      const b = m.bert.params.get('classifier.bias').arraySync() as number[];
      return h.map((rows, i) => {
        const real = rows.slice(0, enc.lengths[i]);
        const mean = real[0].map((_, k) => real.reduce((s, r) => s + r[k], 0) / real.length);
        return mean.reduce((s, x, k) => s + x * w[0][k], b[0]);
      });
    });
    expectClose(got, want, 1e-5, 1e-5, 'mean-pooled scores');
    // Alone (no padding) and in a padded batch: the same score.
    const alone = await Promise.all(PAIRS.map(async (p) => (await m.score([p]))[0]));
    expectClose(alone, got, 1e-5, 1e-5, 'scores alone vs batched');
    // The [CLS] head gives different scores from the same weights.
    const cls = await CrossEncoder.fromPretrained(await savedTo(m), { pooling: 'cls' });
    const clsScores = await cls.score(PAIRS);
    expect(Math.max(...clsScores.map((s, i) => Math.abs(s - got[i])))).to.be.greaterThan(1e-3);
    cls.dispose();
    m.dispose();
  });

  it('is saved as rankdistill.pooling and reloads; transformers loads the folder, ignores the key and computes the [CLS] head', async () => {
    const m = perturbed('mean');
    const dir = await savedTo(m);
    const raw = JSON.parse(fs.readFileSync(path.join(dir, 'config.json'), 'utf8')) as Record<string, unknown>;
    expect(raw.rankdistill).to.deep.equal({ pooling: 'mean' });
    // Its model card gives no transformers snippet (it would score with the [CLS] pooler) and says why.
    const card = fs.readFileSync(path.join(dir, 'README.md'), 'utf8');
    expect(card).to.contain('not the [CLS] pooler');
    expect(card).not.to.contain('AutoModelForSequenceClassification');
    const back = await CrossEncoder.fromPretrained(dir);
    expect(back.pooling).to.equal('mean');
    expect(await back.score(PAIRS)).to.deep.equal(await m.score(PAIRS));
    // A [CLS] model writes no rankdistill key (its config.json stays HF's own).
    const plain = new CrossEncoder(SMALL, { tokenizer: tokDir });
    const plainDir = await savedTo(plain);
    expect(JSON.parse(fs.readFileSync(path.join(plainDir, 'config.json'), 'utf8'))).not.to.have.property('rankdistill');
    expect((await CrossEncoder.fromPretrained(plainDir)).pooling).to.equal('cls');
    plain.dispose();

    const enc = await m.encode(PAIRS);
    const rows = (a: Int32Array) => Array.from({ length: enc.batch }, (_, r) => Array.from(a.subarray(r * enc.seqLen, (r + 1) * enc.seqLen)));
    const file = path.join(dir, 'batch.json');
    fs.writeFileSync(file, JSON.stringify({ ids: rows(enc.inputIds), types: rows(enc.tokenTypeIds), mask: rows(enc.attentionMask) }));
    const peer = JSON.parse(runPeer(PY_LOAD, [dir, file])) as { logits: number[]; missing: string[]; unexpected: string[] };
    expect(peer.missing).to.deep.equal([]);
    expect(peer.unexpected).to.deep.equal([]);
    const asCls = await CrossEncoder.fromPretrained(dir, { pooling: 'cls' });
    expectClose(peer.logits, await asCls.score(PAIRS), 1e-4, 1e-3, 'transformers logits = our [CLS] head on the same weights');
    asCls.dispose();
    back.dispose();
    m.dispose();
  });

  it('rejects an unknown pooling, in code and in config.json (naming the file and field)', async () => {
    expect(() => new CrossEncoder(SMALL, { pooling: 'max' as never })).to.throw(InputError, /pooling/);
    const m = perturbed('mean');
    const dir = await savedTo(m);
    m.dispose();
    const cfg = path.join(dir, 'config.json');
    fs.writeFileSync(cfg, fs.readFileSync(cfg, 'utf8').replace('"pooling": "mean"', '"pooling": "max"'));
    let err: unknown;
    try {
      await CrossEncoder.fromPretrained(dir);
    } catch (e) {
      err = e;
    }
    expect(err).to.be.instanceOf(InputError);
    expect(String((err as Error).message)).to.include('config.json').and.include('rankdistill.pooling');
  });

  it('trains: gradients reach the classifier and the encoder, none reach the unused [CLS] pooler; no leaked tensors', async () => {
    const m = perturbed('mean');
    const before = new Map([...m.trainableVariables()].map(([n, v]) => [n, (v.dataSync() as Float32Array).slice()]));
    const lists = [
      { qid: 'a', query: PAIRS[0][0], docs: PAIRS.map((p) => p[1]), labels: [1, 0.5, 0] },
      { qid: 'b', query: PAIRS[1][0], docs: PAIRS.map((p) => p[1]).reverse(), labels: [1, 0.5, 0] },
    ];
    const trainer = new Trainer(m, { loss: 'ranknet', listSize: 3, listsPerBatch: 2, maxSteps: 1, lr: 1e-3, weightDecay: 0, progress: false });
    await trainer.train(lists); // the first step builds the optimiser state
    await expectNoLeak(async () => {
      const r = await trainer.accumulate([lists], new (await import('../../src/utils/random.js')).SeededRandom(1));
      for (const g of r.grads?.values() ?? []) g.dispose();
    }, 'a training step with the mean-pooled head');
    trainer.dispose();
    const moved = (n: string) => {
      const a = before.get(n)!;
      const b = m.trainableVariables().get(n)!.dataSync();
      return a.some((x, i) => x !== b[i]);
    };
    expect(moved('classifier.weight')).to.equal(true);
    expect(moved('bert.encoder.layer.0.attention.self.query.weight')).to.equal(true);
    expect(moved('bert.pooler.dense.weight')).to.equal(false);
    m.dispose();
  });
});

async function savedTo(m: CrossEncoder): Promise<string> {
  const dir = path.join(tmpDir(), 'model');
  await m.save(dir);
  return dir;
}

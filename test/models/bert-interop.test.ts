// Interop with the peer (PyTorch + HF transformers): what we save loads in transformers with the same
// logits, and what transformers saves loads here with the same logits.
import { expect } from 'chai';
import fs from 'node:fs';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { CrossEncoder } from '../../src/models/cross-encoder.js';
import { batchToTensors, TextTokenizer } from '../../src/tokenization/tokenizer.js';
import { dataPath, expectClose, tmpDir } from '../helpers.js';
import { runPeer } from '../peer.js';

const PAIRS: Array<[string, string]> = [
  ['what is the boiling point of water', 'Water boils at 100 °C at sea level, and at lower temperatures at altitude.'],
  ['who wrote hamlet', 'Hamlet is a tragedy written by William Shakespeare sometime between 1599 and 1601.'],
  ['define photosynthesis', 'Photosynthesis is the process by which plants use sunlight, water and carbon dioxide.'],
];

const PY_LOGITS = `
import json, sys, torch
from transformers import AutoModelForSequenceClassification
torch.set_num_threads(2)
model = AutoModelForSequenceClassification.from_pretrained(sys.argv[1], attn_implementation="eager").eval()
b = json.loads(open(sys.argv[2]).read())
with torch.no_grad():
    out = model(input_ids=torch.tensor(b["ids"]), token_type_ids=torch.tensor(b["types"]), attention_mask=torch.tensor(b["mask"]))
print(json.dumps({"logits": out.logits.flatten().tolist(), "cls": type(model).__name__}))
`;

const PY_CREATE = `
import json, sys, torch
from transformers import BertConfig, BertForSequenceClassification
torch.manual_seed(int(sys.argv[3]))
cfg = BertConfig(vocab_size=30522, hidden_size=48, num_hidden_layers=2, num_attention_heads=3, intermediate_size=96,
                 max_position_embeddings=64, num_labels=int(sys.argv[4]), hidden_act=sys.argv[5])
model = BertForSequenceClassification(cfg).eval()
# Random non-trivial values everywhere (default init leaves biases at 0, LayerNorm at 1).
with torch.no_grad():
    for n, p in sorted(model.named_parameters()):
        p.add_(torch.randn_like(p) * 0.05)
model.save_pretrained(sys.argv[1], safe_serialization=True)
b = json.loads(open(sys.argv[2]).read())
with torch.no_grad():
    out = model(input_ids=torch.tensor(b["ids"]), token_type_ids=torch.tensor(b["types"]), attention_mask=torch.tensor(b["mask"]))
print(json.dumps({"logits": out.logits.flatten().tolist()}))
`;

async function batchFile(tok: TextTokenizer, dir: string) {
  const enc = await tok.encodePairs(PAIRS, { maxLength: 64 });
  const rows = (a: Int32Array) => Array.from({ length: enc.batch }, (_, r) => Array.from(a.subarray(r * enc.seqLen, (r + 1) * enc.seqLen)));
  const file = path.join(dir, 'batch.json');
  fs.writeFileSync(file, JSON.stringify({ ids: rows(enc.inputIds), types: rows(enc.tokenTypeIds), mask: rows(enc.attentionMask) }));
  return { enc, file };
}

function ourLogits(model: CrossEncoder, enc: Awaited<ReturnType<typeof batchFile>>['enc']): number[] {
  return tf.tidy(() => Array.from(model.logits(batchToTensors(enc)).dataSync()));
}

describe('BERT interop with HF transformers (PyTorch peer)', function () {
  this.timeout(900000);
  const tokDir = dataPath('ms-marco-TinyBERT-L-2-v2-tokenizer-config');

  it('a checkpoint saved by rankdistill loads in AutoModelForSequenceClassification with the same logits', async () => {
    const dir = tmpDir();
    const model = new CrossEncoder(
      // A whole-number float field is written as 1.0: transformers 5.x rejects an integer there.
      { hidden_size: 64, num_hidden_layers: 2, num_attention_heads: 4, intermediate_size: 128, max_position_embeddings: 128, hidden_dropout_prob: 0, initializer_range: 1 },
      { tokenizer: tokDir, seed: 7 },
    );
    // Move every weight off its initial value so the test sees each tensor's layout.
    tf.tidy(() => {
      for (const [, v] of model.trainableVariables()) v.assign(tf.add(v, tf.randomNormal(v.shape, 0, 0.05, 'float32', 3)));
    });
    await model.save(path.join(dir, 'ours'));
    const { enc, file } = await batchFile(model.tokenizer, dir);
    const peer = JSON.parse(runPeer(PY_LOGITS, [path.join(dir, 'ours'), file])) as { logits: number[]; cls: string };
    expect(peer.cls).to.equal('BertForSequenceClassification');
    expectClose(peer.logits, ourLogits(model, enc), 1e-4, 1e-3, 'HF logits of our checkpoint');
    // And our own reload of what we saved is exact.
    const back = await CrossEncoder.fromPretrained(path.join(dir, 'ours'));
    expect(ourLogits(back, enc)).to.deep.equal(ourLogits(model, enc));
    back.dispose();
    model.dispose();
  });

  for (const [numLabels, act] of [[1, 'gelu'], [2, 'gelu_new']] as const) {
    it(`a checkpoint saved by HF transformers (num_labels=${numLabels}, ${act}) loads here with the same logits`, async () => {
      const dir = tmpDir();
      const tok = TextTokenizer.fromDir(tokDir);
      const { enc, file } = await batchFile(tok, dir);
      const peer = JSON.parse(runPeer(PY_CREATE, [path.join(dir, 'hf'), file, '11', String(numLabels), act])) as { logits: number[] };
      const model = await CrossEncoder.fromPretrained(path.join(dir, 'hf'), { tokenizer: tok });
      expect(model.config.num_labels).to.equal(numLabels);
      expectClose(ourLogits(model, enc), peer.logits, 1e-4, 1e-3, 'our logits of the HF checkpoint');
      if (numLabels === 2) {
        // monoBERT score: log-softmax of the relevant class.
        const scores = await model.score(PAIRS);
        for (let i = 0; i < PAIRS.length; i++) {
          const [z0, z1] = peer.logits.slice(2 * i, 2 * i + 2);
          const m = Math.max(z0, z1);
          expect(scores[i]).to.be.closeTo(z1 - (m + Math.log(Math.exp(z0 - m) + Math.exp(z1 - m))), 1e-4);
        }
      }
      model.dispose();
    });
  }
});

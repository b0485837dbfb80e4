// A saved RRA-BERT is a plain HF cross-encoder: transformers loads it as BertForSequenceClassification
// with no missing or unexpected weights (the TCL lives in a side file) and gives our [CLS] scores.
import { expect } from 'chai';
import fs from 'node:fs';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { RraBert, RRA_CONFIG_FILE, TCL_WEIGHTS_FILE } from '../../src/models/rra-bert/index.js';
import { dataPath, expectClose, tmpDir } from '../helpers.js';
import { runPeer } from '../peer.js';

const PAIRS: Array<[string, string]> = [
  ['boiling point of water', 'Water boils at 100 degrees at sea level.'],
  ['who wrote hamlet', 'Hamlet is a tragedy by William Shakespeare, written around 1600.'],
];

const PY = `
import json, sys, torch
from transformers import AutoModelForSequenceClassification
torch.set_num_threads(2)
model, info = AutoModelForSequenceClassification.from_pretrained(sys.argv[1], attn_implementation="eager", output_loading_info=True)
model.eval()
b = json.loads(open(sys.argv[2]).read())
with torch.no_grad():
    out = model(input_ids=torch.tensor(b["ids"]), token_type_ids=torch.tensor(b["types"]), attention_mask=torch.tensor(b["mask"]))
print(json.dumps({"logits": out.logits.flatten().tolist(), "cls": type(model).__name__,
                  "missing": sorted(info["missing_keys"]), "unexpected": sorted(info["unexpected_keys"])}))
`;

describe('RRA-BERT checkpoint in HF transformers (PyTorch peer)', function () {
  this.timeout(900000);

  it('loads as a plain BertForSequenceClassification with our [CLS] scores', async () => {
    const dir = tmpDir();
    const model = new RraBert(
      { hidden_size: 32, num_hidden_layers: 2, num_attention_heads: 2, intermediate_size: 64, max_position_embeddings: 64 },
      { tokenizer: dataPath('ms-marco-TinyBERT-L-2-v2-tokenizer-config'), seed: 11, rra: { pooling: 'attention' } },
    );
    tf.tidy(() => {
      for (const [, v] of model.trainableVariables()) v.assign(tf.add(v, tf.randomNormal(v.shape, 0, 0.05, 'float32', 5)));
    });
    const out = path.join(dir, 'rra');
    await model.save(out);
    expect(fs.existsSync(path.join(out, TCL_WEIGHTS_FILE))).to.equal(true);
    expect(fs.existsSync(path.join(out, RRA_CONFIG_FILE))).to.equal(true);
    const enc = await model.encoder.encode(PAIRS);
    const rows = (a: Int32Array) => Array.from({ length: enc.batch }, (_, r) => Array.from(a.subarray(r * enc.seqLen, (r + 1) * enc.seqLen)));
    const file = path.join(dir, 'batch.json');
    fs.writeFileSync(file, JSON.stringify({ ids: rows(enc.inputIds), types: rows(enc.tokenTypeIds), mask: rows(enc.attentionMask) }));
    const peer = JSON.parse(runPeer(PY, [out, file])) as { logits: number[]; cls: string; missing: string[]; unexpected: string[] };
    expect(peer.cls).to.equal('BertForSequenceClassification');
    expect(peer.missing).to.deep.equal([]);
    expect(peer.unexpected).to.deep.equal([]);
    // Independent implementations: the bound of the BERT interop test.
    expectClose(peer.logits, await model.score(PAIRS), 1e-4, 1e-3, 'HF logits vs our [CLS] scores');
    model.dispose();
  });
});

// RRA-BERT on the real all-MiniLM-L6-v2 encoder (a headless checkpoint: fresh seeded 1-logit head):
// the [CLS] scores are the same with and without the Term Control Layer pass, for selection on the
// input embeddings and on a layer's hidden states; Token Selection on the pretrained word-piece
// embeddings gives numpy's cosines; `inspect-selection` takes the checkpoint.
import { expect } from 'chai';
import * as tf from '@tensorflow/tfjs-core';
import { RraBert } from '../../src/models/rra-bert/index.js';
import type { CheckpointLoadReport } from '../../src/models/cross-encoder.js';
import { expectClose, expectNoLeak } from '../helpers.js';
import { runPeer } from '../peer.js';
import { MINILM, pretrainedDir } from '../pretrained.js';

const PAIRS: Array<[string, string]> = [
  ['what temperature does water boil at', 'Water boils at 100 degrees Celsius at sea level; at higher altitudes the boiling point is lower.'],
  ['what temperature does water boil at', 'The Eiffel Tower is a wrought-iron lattice tower in Paris, completed in 1889.'],
  ['who wrote hamlet', 'Hamlet is a tragedy by William Shakespeare, written around 1600.'],
  ['causes of inflation', 'Inflation rises when demand outgrows supply or when production costs increase.'],
  ['causes of inflation', 'a'],
];

// Cosine of every document word piece to every query word piece on the checkpoint's embedding matrix.
const PY = `
import json, sys, numpy as np
from safetensors import safe_open
w = safe_open(sys.argv[1], "np").get_tensor("embeddings.word_embeddings.weight").astype(np.float64)
q, d = json.loads(sys.argv[2]), json.loads(sys.argv[3])
n = lambda x: x / np.linalg.norm(x, axis=1, keepdims=True)
c = n(w[d]) @ n(w[q]).T
print(json.dumps({"best": c.max(axis=1).tolist(), "arg": c.argmax(axis=1).tolist()}))
`;

describe('RRA-BERT on the pretrained all-MiniLM-L6-v2 encoder', function () {
  this.timeout(300000);

  it('[CLS] scores with and without the TCL pass are identical (1e-6), selection on embeddings and on layer 4', async () => {
    const dir = await pretrainedDir(MINILM);
    for (const source of ['embeddings', 4] as const) {
      let report: CheckpointLoadReport | null = null;
      const model = await RraBert.fromPretrained(dir, { maxLength: 128, seed: 3, loadReport: (r) => (report = r), rra: { selection: { source, threshold: 0.6 }, pooling: 'attention' } });
      // Headless: only the ranking head is new; the pooler and the whole encoder come from the checkpoint.
      expect(report!.missing).to.deep.equal(['classifier.weight', 'classifier.bias']);
      const plain = await model.score(PAIRS, { batchSize: 2 });
      const { s, t } = await expectNoLeak(() => model.scoreWithTcl(PAIRS, { batchSize: 3 }), 'scoreWithTcl');
      expectClose(s, plain, 1e-6, 0, `${source}: [CLS] score with vs without TCL`);
      // The TCL path is really computed (not a copy of s): t differs across documents.
      expect(new Set(t.map((v) => v.toFixed(5))).size).to.be.greaterThan(2);
      model.dispose();
    }
  });

  it('selection on the pretrained embeddings: cosines equal numpy on the checkpoint (1e-5); boiling ↔ boil passes τ 0.5, degrees ↔ temperature does not', async () => {
    const dir = await pretrainedDir(MINILM);
    const model = await RraBert.fromPretrained(dir, { maxLength: 128, loadReport: false, rra: { selection: { source: 'embeddings', threshold: 0.5 } } });
    const before = tf.memory().numTensors;
    const rows = await model.inspect(...PAIRS[0]);
    expect(tf.memory().numTensors).to.equal(before);
    const enc = await model.encoder.encode([PAIRS[0]]);
    model.dispose();
    const ids = Array.from(enc.inputIds);
    const q = rows.filter((r) => r.segment === 'query');
    const d = rows.filter((r) => r.segment === 'document');
    const ref = JSON.parse(runPeer(PY, [`${dir}/model.safetensors`, JSON.stringify(q.map((r) => ids[r.position])), JSON.stringify(d.map((r) => ids[r.position]))])) as { best: number[]; arg: number[] };
    // Exact matches report their own query token (cosine 1 on embeddings); the rest the nearest one.
    expectClose(d.map((r) => r.similarity!), ref.best, 1e-5, 0, 'best cosine per document token');
    d.forEach((r, i) => {
      if (r.reason !== 'exact') expect(r.queryToken, r.token).to.equal(q[ref.arg[i]].token);
      expect(r.selected, r.token).to.equal(r.reason === 'exact' || ref.best[i] >= 0.5);
    });
    const boiling = d.find((r) => r.token === 'boiling')!;
    expect([boiling.selected, boiling.reason, boiling.queryToken]).to.deep.equal([true, 'threshold', 'boil']);
    const degrees = d.find((r) => r.token === 'degrees')!;
    expect([degrees.selected, degrees.queryToken]).to.deep.equal([false, 'temperature']);
    expect(d.filter((r) => r.reason === 'exact').map((r) => r.token)).to.deep.equal(['water', 'boil', 'at', 'at', 'at']);
  });

  it('rankdistill inspect-selection --model <MiniLM folder> prints the pretrained selection', async () => {
    const dir = await pretrainedDir(MINILM);
    const { run } = await import('../../src/cli/commands/inspect-selection.js');
    const lines: string[] = [];
    const orig = console.log;
    console.log = (...a: unknown[]) => void lines.push(a.join(' '));
    try {
      expect(await run(['--model', dir, '--query', PAIRS[0][0], '--doc', PAIRS[0][1]])).to.equal(0);
    } finally {
      console.log = orig;
    }
    expect(lines[0]).to.match(/BERT H=384 L=6 \(no ranking head in the checkpoint/);
    expect(lines.find((l) => /\bboiling\s+document/.test(l))).to.match(/\*\s+threshold\s+boil\s+0\.69\d\d$/);
    expect(lines.at(-1)).to.match(/^\d+ of \d+ document tokens selected$/);
  });
});

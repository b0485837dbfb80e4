// Parity with HF transformers on the HF-made fixture (bert-tiny-random): every output, every case.
import { expect } from 'chai';
import fs from 'node:fs';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../../src/backend/index.js';
import { CrossEncoder } from '../../src/models/cross-encoder.js';
import { dataPath, expectClose, expectNoLeak } from '../helpers.js';

const FIXTURE = dataPath('hf-fixtures', 'bert-tiny-random');
// The bound; the fixture README measured ≤ 1.5e-6 between independent implementations.
const ATOL = 1e-4;
const RTOL = 1e-3;

interface Case {
  name: string;
  inputs: { input_ids: number[][]; token_type_ids?: number[][]; attention_mask?: number[][] };
  outputs: { last_hidden_state: number[][][]; pooler_output: number[][]; logits: number[][]; hidden_states: number[][][][] };
}
const expected = JSON.parse(fs.readFileSync(`${FIXTURE}/expected.json`, 'utf8')) as { cases: Case[] };

/** Values at positions where the attention mask is 1 (HF's padded positions are not compared). */
function validRows(states: number[][][], mask: number[][] | undefined): number[] {
  const out: number[] = [];
  states.forEach((row, b) => row.forEach((vec, s) => (!mask || mask[b][s] === 1) && out.push(...vec)));
  return out;
}

async function checkAll(model: CrossEncoder, label: string): Promise<number> {
  let worst = 0;
  for (const c of expected.cases) {
    const { input_ids, token_type_ids, attention_mask } = c.inputs;
    await expectNoLeak(() => {
      const got = tf.tidy(() => {
        const inputs = {
          inputIds: tf.tensor2d(input_ids, undefined, 'int32'),
          tokenTypeIds: token_type_ids ? tf.tensor2d(token_type_ids, undefined, 'int32') : undefined,
          attentionMask: attention_mask ? tf.tensor2d(attention_mask, undefined, 'int32') : undefined,
        };
        const out = model.bert.forward(inputs, { outputHiddenStates: true });
        const logits = model.bert.classify(out.pooledOutput);
        return {
          last: out.lastHiddenState.arraySync(),
          pooled: out.pooledOutput.dataSync(),
          logits: logits.dataSync(),
          hidden: out.hiddenStates!.map((h) => h.arraySync()),
        };
      });
      const cmp = (g: ArrayLike<number>, w: number[], what: string) => {
        expectClose(g, w, ATOL, RTOL, `${label} ${c.name} ${what}`);
        for (let i = 0; i < w.length; i++) worst = Math.max(worst, Math.abs(g[i] - w[i]));
      };
      cmp(validRows(got.last, attention_mask), validRows(c.outputs.last_hidden_state, attention_mask), 'last_hidden_state');
      cmp(got.pooled, c.outputs.pooler_output.flat(), 'pooler_output');
      cmp(got.logits, c.outputs.logits.flat(), 'logits');
      got.hidden.forEach((h, i) => cmp(validRows(h, attention_mask), validRows(c.outputs.hidden_states[i], attention_mask), `hidden_states[${i}]`));
    }, c.name);
  }
  return worst;
}

describe('BERT cross-encoder parity with HF transformers (bert-tiny-random)', () => {
  it('matches every output of every case on the active backend', async () => {
    const model = await CrossEncoder.fromPretrained(FIXTURE);
    const worst = await checkAll(model, tf.getBackend());
    model.dispose();
    expect(worst).to.be.lessThan(1e-5);
  });

  it('matches on the pure-JS cpu backend too', async () => {
    const before = tf.getBackend();
    await initBackend({ backend: 'cpu' });
    try {
      const model = await CrossEncoder.fromPretrained(FIXTURE);
      await checkAll(model, 'cpu');
      model.dispose();
    } finally {
      await initBackend({ backend: before === 'tensorflow' ? 'tensorflow' : (before as 'wasm' | 'cpu') });
    }
    expect(tf.getBackend()).to.equal(before);
  });

  it('scores tokenized text pairs the same as the fixture ids', async () => {
    const model = await CrossEncoder.fromPretrained(FIXTURE, { tokenizer: dataPath('ms-marco-TinyBERT-L-2-v2-tokenizer-config') });
    const c = expected.cases.find((x) => x.name === 'pairs_batch_right_padded')!;
    const texts = (c as unknown as { texts: Array<[string, string]> }).texts;
    const scores = await expectNoLeak(() => model.score(texts, { batchSize: 3 }), 'score');
    expectClose(scores, c.outputs.logits.flat(), ATOL, RTOL, 'score()');
    const ranked = await model.rank(texts[0][0], texts.map((t) => t[1]));
    expect(ranked.map((r) => r.score)).to.deep.equal([...ranked.map((r) => r.score)].sort((a, b) => b - a));
    expect(ranked.map((r) => r.index).sort()).to.deep.equal([0, 1, 2, 3]);
    model.dispose();
  });
});

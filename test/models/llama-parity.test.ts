// Parity with HF transformers on the HF-made Llama fixtures (llama-tiny-random: GQA, untied head;
// llama3-tiny-random: tied head, llama3 RoPE scaling, head_dim ≠ hidden/heads): every output, every case.
import { expect } from 'chai';
import fs from 'node:fs';
import * as tf from '@tensorflow/tfjs-core';
import { generate } from '../../src/models/llama/generation.js';
import { LlamaModel } from '../../src/models/llama/model.js';
import { dataPath, expectClose, expectNoLeak } from '../helpers.js';

// The bound; the fixture READMEs measured independent implementations within 1.5e-5.
const ATOL = 1e-4;
const RTOL = 1e-3;

interface Case {
  name: string;
  inputs: { input_ids: number[][]; attention_mask?: number[][]; position_ids?: number[][]; max_new_tokens?: number };
  outputs: {
    logits?: number[][][];
    embeddings?: number[][][];
    layer_outputs?: number[][][][];
    last_hidden_state?: number[][][];
    last_token_index: number[];
    last_token_hidden_state: number[][];
    last_token_logits_argmax: number[];
    argmax: number[][];
    logsumexp: number[][];
    logits_positions?: number[];
    logits_at_positions?: number[][][];
    new_tokens?: number[];
    steps?: Array<{ next_id: number; top1_logit: number }>;
  };
}

/** Values at positions where the attention mask is 1 (padded positions are not meaningful). */
function valid(states: number[][][], mask: number[][] | undefined): number[] {
  const out: number[] = [];
  states.forEach((row, b) => row.forEach((vec, s) => (!mask || mask[b][s] === 1) && out.push(...vec)));
  return out;
}

function logsumexp(row: ArrayLike<number>): number {
  let m = -Infinity;
  for (let i = 0; i < row.length; i++) m = Math.max(m, row[i]);
  let s = 0;
  for (let i = 0; i < row.length; i++) s += Math.exp(row[i] - m);
  return m + Math.log(s);
}

for (const fixture of ['llama-tiny-random', 'llama3-tiny-random']) {
  const dir = dataPath('hf-fixtures', fixture);
  const expected = JSON.parse(fs.readFileSync(`${dir}/expected.json`, 'utf8')) as { cases: Case[] };

  describe(`Llama parity with HF transformers (${fixture})`, () => {
    let model: LlamaModel;
    before(() => {
      model = LlamaModel.fromDir(dir);
    });
    after(() => model.dispose());

    for (const c of expected.cases.filter((x) => x.name !== 'greedy_generate_8')) {
      it(`matches every output of case ${c.name}`, async () => {
        const { input_ids, attention_mask, position_ids } = c.inputs;
        let worst = 0;
        const cmp = (g: ArrayLike<number>, w: number[], what: string) => {
          expectClose(g, w, ATOL, RTOL, `${c.name} ${what}`);
          for (let i = 0; i < w.length; i++) worst = Math.max(worst, Math.abs(g[i] - w[i]));
        };
        await expectNoLeak(() => {
          const got = tf.tidy(() => {
            const out = model.forward(
              {
                inputIds: tf.tensor2d(input_ids, undefined, 'int32'),
                attentionMask: attention_mask ? tf.tensor2d(attention_mask, undefined, 'int32') : undefined,
                positionIds: position_ids ? tf.tensor2d(position_ids, undefined, 'int32') : undefined,
              },
              { outputHiddenStates: true },
            );
            const logits = model.logits(out.lastHiddenState) as tf.Tensor3D;
            return {
              logits: logits.arraySync(),
              last: out.lastHiddenState.arraySync(),
              hidden: out.hiddenStates!.map((h) => h.arraySync()),
            };
          });
          const o = c.outputs;
          const mask = attention_mask;
          if (o.logits) cmp(valid(got.logits, mask), valid(o.logits, mask), 'logits');
          if (o.last_hidden_state) cmp(valid(got.last, mask), valid(o.last_hidden_state, mask), 'last_hidden_state');
          if (o.embeddings) cmp(valid(got.hidden[0], mask), valid(o.embeddings, mask), 'embeddings');
          o.layer_outputs?.forEach((l, i) => cmp(valid(got.hidden[i + 1], mask), valid(l, mask), `layer_outputs[${i}]`));
          if (o.logits_positions) {
            cmp(o.logits_positions.flatMap((p) => got.logits[0][p]), o.logits_at_positions!.flat(2), 'logits_at_positions');
          }
          o.last_token_index.forEach((t, b) => {
            cmp(got.last[b][t], o.last_token_hidden_state[b], `last_token_hidden_state[${b}]`);
            const row = got.logits[b][t];
            expect(row.indexOf(Math.max(...row)), `last-token argmax row ${b}`).to.equal(o.last_token_logits_argmax[b]);
          });
          // argmax and logsumexp at every valid position.
          const am: number[] = [];
          const lse: number[] = [];
          got.logits.forEach((rows, b) =>
            rows.forEach((row, s) => {
              if (mask && mask[b][s] === 0) return;
              am.push(row.indexOf(Math.max(...row)));
              lse.push(logsumexp(row));
            }),
          );
          expect(am, 'argmax').to.deep.equal(valid(o.argmax.map((r) => r.map((v) => [v])), mask));
          cmp(lse, valid(o.logsumexp.map((r) => r.map((v) => [v])), mask), 'logsumexp');
        }, c.name);
        // The READMEs measured ≤ 1.5e-5 between independent float32/float64 implementations.
        expect(worst).to.be.lessThan(5e-5);
      });
    }

    it('greedy generation gives the reference tokens, with and without the cache', async () => {
      const g = expected.cases.find((x) => x.name === 'greedy_generate_8')!;
      for (const useCache of [true, false]) {
        const r = await expectNoLeak(
          () => generate(model, g.inputs.input_ids, { maxNewTokens: g.inputs.max_new_tokens!, eosTokenId: null, useCache, outputScores: true }),
          'generate',
        );
        expect(r.newTokens[0], `useCache=${useCache}`).to.deep.equal(g.outputs.new_tokens);
        const top1 = r.scores!.map((s) => Math.max(...s[0]));
        expectClose(top1, g.outputs.steps!.map((s) => s.top1_logit), ATOL, RTOL, 'top1_logit');
      }
    });
  });
}

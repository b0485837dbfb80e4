// Parity with HF transformers on the HF-made T5 fixtures (v1.0 t5-tiny-random, v1.1 t5-v1_1-tiny-random):
// encoder states, decoder states, full first-step logits, watched logits, greedy generation; and the
// T5 tokenizer against SentencePiece's reference tokenizations.
import { expect } from 'chai';
import fs from 'node:fs';
import * as tf from '@tensorflow/tfjs-core';
import { generate } from '../../src/models/t5/generation.js';
import { loadT5, relativePositionBucket, type T5Model } from '../../src/models/t5/model.js';
import { TextTokenizer } from '../../src/tokenization/tokenizer.js';
import { dataPath, expectClose, expectNoLeak } from '../helpers.js';

// The bound (the fixture READMEs recommend 1e-4 + 1e-4·|v| and 2e-4 + 2e-4·|v|).
const ATOL = 1e-4;
const RTOL = 1e-3;

type N3 = number[][][];
interface Case {
  name: string;
  texts: string[];
  inputs: { input_ids: number[][]; attention_mask: number[][]; decoder_input_ids?: number[][]; max_new_tokens?: number };
  outputs: {
    encoder_last_hidden_state?: N3;
    encoder_hidden_states?: N3[];
    decoder_last_hidden_state?: N3;
    logits?: N3;
    logits_at_watch_ids?: N3;
    argmax?: number[][];
    logsumexp?: number[][];
    logit_true_1176?: number[];
    logit_false_6136?: number[];
    logit_extra_id_10_32089?: number[];
    log_softmax_true_over_true_false?: number[];
    new_tokens?: number[];
    new_pieces?: string[];
  };
}
interface Expected {
  watch_ids: number[];
  cases: Case[];
}

function validRows(states: N3, mask: number[][]): number[] {
  const out: number[] = [];
  states.forEach((row, b) => row.forEach((vec, s) => mask[b][s] === 1 && out.push(...vec)));
  return out;
}

const TOK_DIR = dataPath('t5-small-spiece');

for (const fixture of ['t5-tiny-random', 't5-v1_1-tiny-random']) {
  describe(`T5 parity with HF transformers (${fixture})`, function () {
    this.timeout(120000);
    const dir = dataPath('hf-fixtures', fixture);
    const expected = JSON.parse(fs.readFileSync(`${dir}/expected.json`, 'utf8')) as Expected;
    let model: T5Model;
    let worst = 0;
    before(() => {
      model = loadT5(dir).model;
    });
    after(() => model.dispose());

    const cmp = (got: ArrayLike<number>, want: number[], what: string) => {
      expectClose(got, want, ATOL, RTOL, `${fixture} ${what}`);
      for (let i = 0; i < want.length; i++) worst = Math.max(worst, Math.abs(got[i] - want[i]) / (1 + Math.abs(want[i])));
    };

    it('reads the config and ties/unties the LM head as the checkpoint says', () => {
      const v11 = fixture.includes('v1_1');
      expect(model.config.tie_word_embeddings).to.equal(!v11);
      expect(model.config.scale_decoder_outputs).to.equal(!v11);
      expect(model.params.has('lm_head.weight')).to.equal(v11);
      expect(model.config.feed_forward_proj).to.equal(v11 ? 'gated-gelu' : 'relu');
    });

    for (const c of expected.cases.filter((x) => x.name !== 'greedy_generate_5')) {
      it(`case ${c.name}: encoder/decoder states and logits`, async () => {
        const { input_ids, attention_mask, decoder_input_ids } = c.inputs;
        const o = c.outputs;
        await expectNoLeak(() => {
          const got = tf.tidy(() => {
            const ids = tf.tensor2d(input_ids, undefined, 'int32');
            const mask = tf.tensor2d(attention_mask, undefined, 'int32');
            const enc = model.encode(ids, mask, { outputHiddenStates: true });
            const dec = model.decode(tf.tensor2d(decoder_input_ids!, undefined, 'int32'), { hidden: enc.lastHiddenState, mask }).hidden;
            const logits = model.lmLogits(dec);
            const [B, T] = dec.shape;
            const first = tf.reshape(tf.slice(dec, [0, 0, 0], [B, 1, model.config.d_model]), [B, model.config.d_model]);
            return {
              enc: enc.lastHiddenState.arraySync(),
              hs: enc.hiddenStates!.map((h) => h.arraySync()),
              dec: dec.arraySync(),
              logits: logits.dataSync().slice(),
              watch: tf.gather(logits, tf.tensor1d(expected.watch_ids, 'int32'), 2).arraySync() as N3,
              lse: tf.logSumExp(logits, 2).arraySync() as number[][],
              special: model.logitsAt(first, [1176, 6136, 32089]).arraySync(),
              T,
            };
          });
          if (o.encoder_last_hidden_state) cmp(validRows(got.enc, attention_mask), validRows(o.encoder_last_hidden_state, attention_mask), 'encoder_last_hidden_state');
          o.encoder_hidden_states?.forEach((h, i) => cmp(validRows(got.hs[i], attention_mask), validRows(h, attention_mask), `encoder_hidden_states[${i}]`));
          if (o.decoder_last_hidden_state) cmp(got.dec.flat(2), o.decoder_last_hidden_state.flat(2), 'decoder_last_hidden_state');
          if (o.logits) cmp(got.logits, o.logits.flat(2), 'logits');
          if (o.logits_at_watch_ids) cmp(got.watch.flat(2), o.logits_at_watch_ids.flat(2), 'logits_at_watch_ids');
          if (o.logsumexp) cmp(got.lse.flat(), o.logsumexp.flat(), 'logsumexp');
          if (o.argmax) {
            const V = model.config.vocab_size;
            const am: number[][] = o.argmax.map((row, b) => row.map((_, t) => {
              const base = (b * got.T + t) * V;
              let best = 0;
              for (let i = 1; i < V; i++) if (got.logits[base + i] > got.logits[base + best]) best = i;
              return best;
            }));
            expect(am, 'argmax').to.deep.equal(o.argmax);
          }
          if (o.logit_true_1176) {
            cmp(got.special.map((r) => r[0]), o.logit_true_1176, 'logit ▁true');
            cmp(got.special.map((r) => r[1]), o.logit_false_6136!, 'logit ▁false');
            cmp(got.special.map((r) => r[2]), o.logit_extra_id_10_32089!, 'logit <extra_id_10>');
          }
          if (o.log_softmax_true_over_true_false) {
            const ls = got.special.map(([t, f]) => t - Math.max(t, f) - Math.log(Math.exp(t - Math.max(t, f)) + Math.exp(f - Math.max(t, f))));
            cmp(ls, o.log_softmax_true_over_true_false, 'log_softmax_true_over_true_false');
          }
        }, c.name);
      });
    }

    it('greedy generation (5 steps) gives the reference tokens, with and without the KV cache', async () => {
      const c = expected.cases.find((x) => x.name === 'greedy_generate_5')!;
      const tok = TextTokenizer.fromDir(TOK_DIR);
      await expectNoLeak(async () => {
        const ids = tf.tensor2d(c.inputs.input_ids, undefined, 'int32');
        const mask = tf.tensor2d(c.inputs.attention_mask, undefined, 'int32');
        const cached = await generate(model, ids, mask, { maxNewTokens: 5 });
        const uncached = await generate(model, ids, mask, { maxNewTokens: 5, useCache: false });
        tf.dispose([ids, mask]);
        expect(cached[0]).to.deep.equal(c.outputs.new_tokens);
        expect(uncached[0]).to.deep.equal(c.outputs.new_tokens);
        expect(cached[0].map((i) => tok.idToToken(i))).to.deep.equal(c.outputs.new_pieces);
      }, 'generate');
    });

    it('the T5 tokenizer reproduces the fixture input ids (texts + </s>)', async () => {
      const tok = TextTokenizer.fromDir(TOK_DIR);
      for (const c of expected.cases) {
        const enc = await tok.encodeBatch(c.texts, undefined, { maxLength: 1024 });
        c.texts.forEach((_, b) => {
          const want = c.inputs.input_ids[b].filter((_, s) => c.inputs.attention_mask[b][s] === 1);
          expect(Array.from(enc.inputIds.subarray(b * enc.seqLen, b * enc.seqLen + enc.lengths[b])), `${c.name}[${b}]`).to.deep.equal(want);
        });
      }
    });

    after(() => {
      // Worst |Δ|/(1+|v|) over everything compared, for the report.
      console.log(`      ${fixture}: worst |Δ|/(1+|v|) = ${worst.toExponential(2)}`);
    });
  });
}

describe('T5 relative position buckets', () => {
  it('match the closed form of the fixture README', () => {
    // Hand-computed from the README's definition with 32 buckets, max distance 128.
    expect([0, 1, 7, 8, 12, 127, 300].map((r) => relativePositionBucket(r, true, 32, 128))).to.deep.equal([0, 17, 23, 24, 25, 31, 31]);
    expect([-1, -7, -8, -20, -300].map((r) => relativePositionBucket(r, true, 32, 128))).to.deep.equal([1, 7, 8, 10, 15]);
    expect([1, 0, -1, -15, -16, -64, -127, -1000].map((r) => relativePositionBucket(r, false, 32, 128))).to.deep.equal([0, 0, 1, 15, 16, 26, 31, 31]);
  });
});

describe('T5 tokenizer (tokenizer.json) against SentencePiece', () => {
  it('gives ids_with_eos for all reference strings, and the monoT5/RankT5 token ids', async () => {
    const ref = JSON.parse(fs.readFileSync(dataPath('t5-small-spiece', 'reference-tokenization.json'), 'utf8')) as {
      cases: Array<{ text: string; ids_with_eos: number[] }>;
    };
    const tok = TextTokenizer.fromDir(TOK_DIR);
    for (const c of ref.cases) expect((await tok.encode(c.text)).ids, JSON.stringify(c.text)).to.deep.equal(c.ids_with_eos);
    expect(ref.cases.length).to.equal(26);
    expect([tok.tokenToId('▁true'), tok.tokenToId('▁false'), tok.tokenToId('<extra_id_10>'), tok.padId]).to.deep.equal([1176, 6136, 32089, 0]);
  });
});

// Decoding with and without the key/value cache (token for token, greedy and seeded sampling),
// batched left-padded generation, EOS, the sampling filters, and clear errors on bad configs/checkpoints.
import { expect } from 'chai';
import fs from 'node:fs';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { generate, pickToken } from '../../src/models/llama/generation.js';
import { LlamaModel } from '../../src/models/llama/model.js';
import { parseLlamaConfig } from '../../src/models/llama/config.js';
import { SeededRandom } from '../../src/training/random.js';
import { InputError } from '../../src/utils/errors.js';
import { dataPath, expectClose, expectNoLeak, tmpDir } from '../helpers.js';

const FIXTURE = dataPath('hf-fixtures', 'llama-tiny-random');
const FIXTURE3 = dataPath('hf-fixtures', 'llama3-tiny-random');

describe('Llama generation with the key/value cache', () => {
  let model: LlamaModel;
  before(() => {
    model = LlamaModel.fromDir(FIXTURE3);
  });
  after(() => model.dispose());

  const prompts = [
    [1, 983, 328, 639, 886, 889],
    [1, 44, 512],
    [1, 7, 8, 9, 10, 11, 12, 13, 14],
  ];

  for (const opts of [
    { name: 'greedy', o: {} },
    { name: 'sampling, temperature 0.8, top-k 50, seed 3', o: { doSample: true, temperature: 0.8, topK: 50, seed: 3 } },
    { name: 'sampling, top-p 0.9, seed 11', o: { doSample: true, topP: 0.9, seed: 11 } },
  ]) {
    it(`gives the same tokens with and without the cache (${opts.name})`, async () => {
      const a = await expectNoLeak(() => generate(model, prompts, { maxNewTokens: 12, eosTokenId: null, useCache: true, outputScores: true, ...opts.o }));
      const b = await expectNoLeak(() => generate(model, prompts, { maxNewTokens: 12, eosTokenId: null, useCache: false, outputScores: true, ...opts.o }));
      expect(a.newTokens).to.deep.equal(b.newTokens);
      a.scores!.forEach((s, i) => s.forEach((row, r) => expectClose(row, b.scores![i][r], 1e-4, 1e-4, `step ${i} row ${r} logits`)));
    });
  }

  it('batched left-padded generation equals generating each prompt alone', async () => {
    const batched = await generate(model, prompts, { maxNewTokens: 10, eosTokenId: null });
    for (let i = 0; i < prompts.length; i++) {
      const alone = await generate(model, [prompts[i]], { maxNewTokens: 10, eosTokenId: null });
      expect(batched.newTokens[i], `prompt ${i}`).to.deep.equal(alone.newTokens[0]);
    }
  });

  it('seeded sampling is reproducible and the seed matters', async () => {
    const o = { maxNewTokens: 16, eosTokenId: null, doSample: true, seed: 5 };
    const a = await generate(model, [prompts[0]], o);
    const b = await generate(model, [prompts[0]], o);
    const c = await generate(model, [prompts[0]], { ...o, seed: 6 });
    expect(a.newTokens).to.deep.equal(b.newTokens);
    expect(a.newTokens).to.not.deep.equal(c.newTokens);
  });

  it('stops a row at EOS and pads it while others continue', async () => {
    const free = await generate(model, [prompts[2]], { maxNewTokens: 6, eosTokenId: null });
    const eos = free.newTokens[0][1];
    const stop = free.newTokens[0].indexOf(eos) + 1;
    const r = await generate(model, [prompts[2], prompts[1]], { maxNewTokens: 6, eosTokenId: eos, padTokenId: 0 });
    expect(r.newTokens[0]).to.deep.equal(free.newTokens[0].slice(0, stop));
    expect(r.newTokens[1].length).to.be.within(1, 6);
    expect(r.sequences[0]).to.deep.equal([...prompts[2], ...r.newTokens[0]]);
  });
});

describe('Llama sampling filters (pickToken)', () => {
  const logits = [2.0, 1.0, 0.5, 3.0, -1.0];
  it('greedy is the argmax; top-k 1 and a tiny top-p are greedy too', () => {
    expect(pickToken(logits, { maxNewTokens: 1 }, null)).to.equal(3);
    for (let s = 0; s < 20; s++) {
      expect(pickToken(logits, { maxNewTokens: 1, doSample: true, topK: 1 }, new SeededRandom(s))).to.equal(3);
      expect(pickToken(logits, { maxNewTokens: 1, doSample: true, topP: 0.01 }, new SeededRandom(s))).to.equal(3);
    }
  });
  it('samples the softmax distribution restricted to the top k', () => {
    const rng = new SeededRandom(1);
    const counts = [0, 0, 0, 0, 0];
    const n = 20000;
    for (let i = 0; i < n; i++) counts[pickToken(logits, { maxNewTokens: 1, doSample: true, topK: 2 }, rng)]++;
    // softmax over {3.0, 2.0}: 0.731 / 0.269; tokens outside the top 2 never.
    expect(counts[1] + counts[2] + counts[4]).to.equal(0);
    expect(counts[3] / n).to.be.closeTo(1 / (1 + Math.exp(-1)), 0.015);
  });
  it('top-p keeps the smallest prefix reaching p', () => {
    // probs (T=1): 3.0→0.6285, 2.0→0.2312, 1.0→0.0851, …; p=0.8 keeps {3, 0}.
    const rng = new SeededRandom(2);
    const seen = new Set<number>();
    for (let i = 0; i < 2000; i++) seen.add(pickToken(logits, { maxNewTokens: 1, doSample: true, topP: 0.8 }, rng));
    expect([...seen].sort()).to.deep.equal([0, 3]);
  });
});

describe('Llama config and checkpoint errors', () => {
  function copyFixture(edit: (cfg: Record<string, unknown>) => void): string {
    const dir = tmpDir();
    fs.copyFileSync(path.join(FIXTURE, 'model.safetensors'), path.join(dir, 'model.safetensors'));
    const cfg = JSON.parse(fs.readFileSync(path.join(FIXTURE, 'config.json'), 'utf8')) as Record<string, unknown>;
    edit(cfg);
    fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify(cfg));
    return dir;
  }
  const expectInputError = (fn: () => unknown, ...parts: string[]) => {
    let err: unknown;
    try {
      fn();
    } catch (e) {
      err = e;
    }
    expect(err, 'an InputError').to.be.instanceOf(InputError);
    for (const p of parts) expect((err as Error).message).to.include(p);
  };

  it('names the tensor and shapes when the config does not fit the checkpoint', () => {
    const before = tf.memory().numTensors;
    expectInputError(() => LlamaModel.fromDir(copyFixture((c) => (c.intermediate_size = 96))), 'model.safetensors', 'mlp.', '[64,128]', '[64,96]', 'mismatch');
    expectInputError(() => LlamaModel.fromDir(copyFixture((c) => (c.num_key_value_heads = 4))), 'k_proj', 'mismatch');
    expectInputError(() => LlamaModel.fromDir(copyFixture((c) => (c.num_hidden_layers = 1))), 'model.layers.1.', 'mismatch');
    expectInputError(() => LlamaModel.fromDir(copyFixture((c) => (c.num_hidden_layers = 3))), 'missing tensors', 'model.layers.2.');
    // Untied config needs lm_head; tied config with this checkpoint finds an unused lm_head… which is ignored (HF does the same).
    expectInputError(() => LlamaModel.fromDir(copyFixture((c) => (c.attention_bias = true))), 'missing tensors', 'q_proj.bias');
    expect(tf.memory().numTensors, 'no tensors left behind by failed loads').to.equal(before);
  });

  it('rejects bad config values with the file and field', () => {
    expectInputError(() => LlamaModel.fromDir(copyFixture((c) => delete c.hidden_size)), 'config.json', "field 'hidden_size'", 'missing');
    expectInputError(() => LlamaModel.fromDir(copyFixture((c) => (c.num_key_value_heads = 3))), "field 'num_key_value_heads'", 'multiple');
    expectInputError(() => LlamaModel.fromDir(copyFixture((c) => (c.rope_scaling = { rope_type: 'yarn', factor: 4 }))), "field 'rope_scaling.rope_type'", 'yarn');
    expectInputError(() => LlamaModel.fromDir(copyFixture((c) => (c.hidden_act = 'swiglu'))), "field 'hidden_act'");
    expectInputError(() => LlamaModel.fromDir(copyFixture((c) => (c.model_type = 'gpt2'))), "field 'model_type'");
    expectInputError(() => LlamaModel.fromDir(tmpDir()), 'config.json not found');
  });

  it('reads the transformers 5.x config layout (rope_parameters, dtype) like the hub layout', () => {
    const hub = JSON.parse(fs.readFileSync(path.join(FIXTURE3, 'config.json'), 'utf8')) as Record<string, unknown>;
    const { rope_theta, rope_scaling, torch_dtype: _d, ...rest } = hub;
    const v5 = { ...rest, dtype: 'float32', rope_parameters: { ...(rope_scaling as object), rope_theta } };
    expect(parseLlamaConfig(v5)).to.deep.equal(parseLlamaConfig(hub));
    expect(parseLlamaConfig(hub).rope_scaling?.rope_type).to.equal('llama3');
    const plain = { ...rest, rope_parameters: { rope_type: 'default', rope_theta: 10000 } };
    expect(parseLlamaConfig(plain).rope_scaling).to.equal(null);
    expect(parseLlamaConfig(plain).rope_theta).to.equal(10000);
  });
});

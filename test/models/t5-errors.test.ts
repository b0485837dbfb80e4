// T5 loading: config/checkpoint mismatches give errors that name the file and the field or tensor;
// the checkpoint layouts met in the wild (aliases of tied tensors, old extra tables, transformers 5.x
// re-saved v1.1 configs) load to the same model.
import { expect } from 'chai';
import fs from 'node:fs';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { readSafetensors, writeSafetensors, type TensorToWrite } from '../../src/io/safetensors.js';
import { parseT5Config, t5Config } from '../../src/models/t5/config.js';
import { loadT5, type T5Model } from '../../src/models/t5/model.js';
import { InputError } from '../../src/utils/errors.js';
import { dataPath, tmpDir } from '../helpers.js';

const V10 = dataPath('hf-fixtures', 't5-tiny-random');
const V11 = dataPath('hf-fixtures', 't5-v1_1-tiny-random');

/** A copy of a fixture with its config and tensors edited. */
function variant(src: string, editConfig: (c: Record<string, unknown>) => void, editTensors: (t: Record<string, TensorToWrite>) => void = () => {}): string {
  const dir = tmpDir();
  const cfg = JSON.parse(fs.readFileSync(path.join(src, 'config.json'), 'utf8')) as Record<string, unknown>;
  editConfig(cfg);
  fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify(cfg));
  const tensors: Record<string, TensorToWrite> = {};
  for (const [n, t] of readSafetensors(path.join(src, 'model.safetensors')).tensors) tensors[n] = { shape: t.shape, values: t.values };
  editTensors(tensors);
  writeSafetensors(path.join(dir, 'model.safetensors'), tensors);
  return dir;
}

function expectInputError(fn: () => unknown, ...parts: string[]): void {
  let err: unknown;
  try {
    const r = fn() as { model?: T5Model };
    r?.model?.dispose();
  } catch (e) {
    err = e;
  }
  expect(err, 'expected an InputError').to.be.instanceOf(InputError);
  for (const p of parts) expect((err as Error).message).to.include(p);
}

function firstStepLogits(model: T5Model): number[] {
  return tf.tidy(() => {
    const ids = tf.tensor2d([[3, 17, 99, 4, 1]], undefined, 'int32');
    return Array.from(model.forward({ inputIds: ids, decoderInputIds: tf.tensor2d([[0]], undefined, 'int32') }).logits.dataSync());
  });
}

describe('T5 config and checkpoint errors', function () {
  this.timeout(60000);

  it('config: missing keys, wrong model_type, bad values name the file and field', () => {
    expectInputError(() => parseT5Config({ d_model: 8 }, 'x/config.json'), 'x/config.json', "field 'vocab_size'", 'missing');
    const ok = { vocab_size: 100, d_model: 8, d_kv: 4, d_ff: 16, num_layers: 1, num_heads: 2 };
    expectInputError(() => parseT5Config({ ...ok, model_type: 'bert' }, 'c.json'), "field 'model_type'");
    expectInputError(() => parseT5Config({ ...ok, feed_forward_proj: 'gated-swoosh' }, 'c.json'), "field 'feed_forward_proj'", 'swoosh');
    expectInputError(() => parseT5Config({ ...ok, num_heads: 0 }, 'c.json'), "field 'num_heads'");
    expectInputError(() => parseT5Config({ ...ok, eos_token_id: 100 }, 'c.json'), "field 'eos_token_id'");
    const c = parseT5Config({ ...ok, feed_forward_proj: 'gated-gelu', tie_word_embeddings: false });
    expect(c.num_decoder_layers).to.equal(1);
    expect(c.scale_decoder_outputs).to.equal(false);
    expect(t5Config({ tie_word_embeddings: false }).scale_decoder_outputs).to.equal(false);
  });

  it('d_model of the config differs from the checkpoint: shape mismatch naming the tensor', () => {
    const dir = variant(V10, (c) => {
      c.d_model = 64;
    });
    expectInputError(() => loadT5(dir), 'model.safetensors', 'has shape', 'but the model config expects', 'config/checkpoint mismatch');
  });

  it('fewer layers in the config than in the checkpoint: the extra block is named', () => {
    const dir = variant(V10, (c) => {
      c.num_layers = 1;
      c.num_decoder_layers = 1;
    });
    expectInputError(() => loadT5(dir), "'decoder.block.1.", 'config/checkpoint mismatch');
  });

  it('more layers in the config than in the checkpoint: the missing tensors are named', () => {
    const dir = variant(V10, (c) => {
      c.num_layers = 3;
    });
    expectInputError(() => loadT5(dir), 'missing tensors', 'encoder.block.2.');
  });

  it('gated feed-forward in the config, ReLU weights in the checkpoint', () => {
    const dir = variant(V10, (c) => {
      c.feed_forward_proj = 'gated-gelu';
    });
    expectInputError(() => loadT5(dir), 'DenseReluDense.wi.weight', "feed_forward_proj 'gated-gelu'");
  });

  it('untied config without lm_head.weight', () => {
    const dir = variant(V10, (c) => {
      c.tie_word_embeddings = false;
    });
    expectInputError(() => loadT5(dir), "field 'lm_head.weight'", 'tie_word_embeddings false');
  });

  it('missing files name the directory', () => {
    expectInputError(() => loadT5(tmpDir()), 'config.json not found');
  });
});

describe('T5 checkpoint layouts in the wild', function () {
  this.timeout(60000);

  it('tied tensors stored under aliases, plus the old cross-attention bias table, load to the same model', () => {
    const ref = loadT5(V10).model;
    const want = firstStepLogits(ref);
    const dir = variant(
      V10,
      () => {},
      (t) => {
        t['encoder.embed_tokens.weight'] = t['shared.weight'];
        t['decoder.embed_tokens.weight'] = t['shared.weight'];
        t['lm_head.weight'] = t['shared.weight'];
        delete t['shared.weight'];
        t['decoder.block.0.layer.1.EncDecAttention.relative_attention_bias.weight'] = { shape: [32, 2], values: new Float32Array(64) };
      },
    );
    const { model } = loadT5(dir);
    expect(model.params.has('lm_head.weight')).to.equal(false);
    expect(firstStepLogits(model)).to.deep.equal(want);
    model.dispose();
    ref.dispose();
  });

  it('a v1.1 config re-saved by transformers 5.x (tie_word_embeddings true, scale_decoder_outputs false) stays untied and unscaled', () => {
    const ref = loadT5(V11).model;
    const want = firstStepLogits(ref);
    const dir = variant(V11, (c) => {
      c.tie_word_embeddings = true;
      c.scale_decoder_outputs = false;
      delete c.torch_dtype;
      c.dtype = 'float32';
    });
    const { model } = loadT5(dir);
    expect(model.config.tie_word_embeddings).to.equal(false);
    expect(model.config.scale_decoder_outputs).to.equal(false);
    expect(firstStepLogits(model)).to.deep.equal(want);
    model.dispose();
    ref.dispose();
  });

  it('saved config.json keeps float fields as floats (transformers 5.x rejects 1 for initializer_factor)', () => {
    const { model } = loadT5(V10);
    const dir = tmpDir();
    model.save(dir);
    const text = fs.readFileSync(path.join(dir, 'config.json'), 'utf8');
    expect(text).to.include('"initializer_factor": 1.0');
    expect(JSON.parse(text).initializer_factor).to.equal(1);
    expect(JSON.parse(text).scale_decoder_outputs).to.equal(undefined);
    model.dispose();
  });
});

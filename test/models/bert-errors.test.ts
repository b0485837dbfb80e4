// Bad checkpoints and configs give errors that name the file, the key or the tensor.
import { expect } from 'chai';
import fs from 'node:fs';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { CrossEncoder } from '../../src/models/cross-encoder.js';
import { readSafetensors, writeSafetensors } from '../../src/io/safetensors.js';
import { dataPath, tmpDir } from '../helpers.js';

const FIXTURE = dataPath('hf-fixtures', 'bert-tiny-random');

function copyFixture(): string {
  const dir = tmpDir();
  for (const f of ['config.json', 'model.safetensors']) fs.copyFileSync(path.join(FIXTURE, f), path.join(dir, f));
  return dir;
}

function editConfig(dir: string, edit: (c: Record<string, unknown>) => void): void {
  const file = path.join(dir, 'config.json');
  const c = JSON.parse(fs.readFileSync(file, 'utf8')) as Record<string, unknown>;
  edit(c);
  fs.writeFileSync(file, JSON.stringify(c));
}

async function loadError(dir: string): Promise<string> {
  const before = tf.memory().numTensors;
  try {
    const m = await CrossEncoder.fromPretrained(dir);
    m.dispose();
  } catch (e) {
    // A failed load frees what it allocated.
    expect(tf.memory().numTensors).to.equal(before);
    return (e as Error).message;
  }
  throw new Error('expected the load to fail');
}

describe('BERT checkpoint and config errors', () => {
  it('a truncated model.safetensors', async () => {
    const dir = copyFixture();
    const f = path.join(dir, 'model.safetensors');
    const buf = fs.readFileSync(f);
    fs.writeFileSync(f, buf.subarray(0, buf.length - 4096));
    expect(await loadError(dir)).to.match(/model\.safetensors: truncated safetensors file: tensor '.+' ends at byte \d+/);
  });

  it('a tensor whose shape does not match the config', async () => {
    const dir = copyFixture();
    editConfig(dir, (c) => {
      c.intermediate_size = 80;
    });
    expect(await loadError(dir)).to.match(
      /model\.safetensors: tensor 'bert\.encoder\.layer\.0\.intermediate\.dense\.(weight|bias)' has shape \[64.*\] but the model config expects \[80.*\]/,
    );
  });

  it('a checkpoint with a missing tensor', async () => {
    const dir = copyFixture();
    const f = path.join(dir, 'model.safetensors');
    const st = readSafetensors(f);
    const kept: Record<string, { shape: number[]; values: Float32Array | Int32Array }> = {};
    for (const [n, t] of st.tensors) if (n !== 'bert.encoder.layer.1.output.dense.weight') kept[n] = t;
    writeSafetensors(f, kept);
    expect(await loadError(dir)).to.match(/missing tensors for parameters: bert\.encoder\.layer\.1\.output\.dense\.weight/);
  });

  for (const key of ['hidden_size', 'num_hidden_layers', 'vocab_size', 'num_attention_heads']) {
    it(`a config without ${key}`, async () => {
      const dir = copyFixture();
      editConfig(dir, (c) => {
        delete c[key];
      });
      expect(await loadError(dir)).to.match(new RegExp(`config\\.json: field '${key}': missing required key`));
    });
  }

  it('an unknown hidden_act', async () => {
    const dir = copyFixture();
    editConfig(dir, (c) => {
      c.hidden_act = 'mish_v2';
    });
    expect(await loadError(dir)).to.match(/config\.json: field 'hidden_act': unknown activation "mish_v2" \(supported: gelu/);
  });

  it('hidden size not divisible by the heads, and an unsupported position embedding', async () => {
    let dir = copyFixture();
    editConfig(dir, (c) => {
      c.num_attention_heads = 3;
    });
    expect(await loadError(dir)).to.match(/field 'num_attention_heads': hidden_size 32 is not a multiple of num_attention_heads 3/);
    dir = copyFixture();
    editConfig(dir, (c) => {
      c.position_embedding_type = 'relative_key';
    });
    expect(await loadError(dir)).to.match(/field 'position_embedding_type'/);
  });

  it('a directory without the files', async () => {
    const dir = tmpDir();
    expect(await loadError(dir)).to.match(/config\.json not found/);
    fs.copyFileSync(path.join(FIXTURE, 'config.json'), path.join(dir, 'config.json'));
    expect(await loadError(dir)).to.match(/model\.safetensors not found/);
  });
});

describe('BERT train and eval modes', () => {
  it('eval is deterministic without dropout; training applies dropout', async () => {
    const model = await CrossEncoder.fromPretrained(FIXTURE);
    const ids = tf.tensor2d([[101, 2054, 2003, 102, 2300, 102]], undefined, 'int32');
    const run = (training: boolean) => tf.tidy(() => Array.from(model.logits({ inputIds: ids }, training).dataSync()));
    expect(run(false)).to.deep.equal(run(false));
    const a = run(true);
    const b = run(true);
    expect(a).to.not.deep.equal(run(false));
    expect(a).to.not.deep.equal(b);
    ids.dispose();
    model.dispose();
  });
});

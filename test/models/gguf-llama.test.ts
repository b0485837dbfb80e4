// Llama from GGUF on small files the `gguf` package writes: the same random weights as an HF folder
// and as a GGUF file converted the way llama.cpp's convert_hf_to_gguf.py does (Q/K rows permuted,
// llama.* metadata, untied output, grouped-query attention) load to identical parameters; bad files
// and unsupported metadata give errors naming the file and the key or tensor.
import { expect } from 'chai';
import fs from 'node:fs';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { hfLlamaName, unpermuteQK } from '../../src/models/llama/gguf.js';
import { LlamaModel } from '../../src/models/llama/model.js';
import { InputError } from '../../src/utils/errors.js';
import { expectClose, tmpDir } from '../helpers.js';
import { runPeer } from '../peer.js';

// Writes hf/ (config.json + model.safetensors) and <variant>.gguf files of one random Llama.
const WRITER = String.raw`
import sys, os, json, numpy as np, gguf
from safetensors.numpy import save_file
out = sys.argv[1]
rng = np.random.default_rng(3)
H, I, L, NH, NKV, V, D = 32, 48, 2, 4, 2, 64, 8
hf = {'model.embed_tokens.weight': rng.standard_normal((V, H)), 'model.norm.weight': 1 + 0.1 * rng.standard_normal(H), 'lm_head.weight': rng.standard_normal((V, H))}
for i in range(L):
    p = f'model.layers.{i}.'
    hf[p + 'self_attn.q_proj.weight'] = rng.standard_normal((NH * D, H))
    hf[p + 'self_attn.k_proj.weight'] = rng.standard_normal((NKV * D, H))
    hf[p + 'self_attn.v_proj.weight'] = rng.standard_normal((NKV * D, H))
    hf[p + 'self_attn.o_proj.weight'] = rng.standard_normal((H, NH * D))
    hf[p + 'mlp.gate_proj.weight'] = rng.standard_normal((I, H))
    hf[p + 'mlp.up_proj.weight'] = rng.standard_normal((I, H))
    hf[p + 'mlp.down_proj.weight'] = rng.standard_normal((H, I))
    hf[p + 'input_layernorm.weight'] = 1 + 0.1 * rng.standard_normal(H)
    hf[p + 'post_attention_layernorm.weight'] = 1 + 0.1 * rng.standard_normal(H)
hf = {k: (v * 0.1).astype(np.float32) for k, v in hf.items()}
os.makedirs(out + '/hf', exist_ok=True)
save_file(hf, out + '/hf/model.safetensors', metadata={'format': 'pt'})
json.dump({'architectures': ['LlamaForCausalLM'], 'model_type': 'llama', 'vocab_size': V, 'hidden_size': H, 'intermediate_size': I,
           'num_hidden_layers': L, 'num_attention_heads': NH, 'num_key_value_heads': NKV, 'max_position_embeddings': 128,
           'rms_norm_eps': 1e-5, 'rope_theta': 500000.0, 'tie_word_embeddings': False, 'hidden_act': 'silu',
           'bos_token_id': 1, 'eos_token_id': 2}, open(out + '/hf/config.json', 'w'))
# convert_hf_to_gguf.py LlamaModel.permute
def permute(w, n_head, n_head_kv):
    if n_head_kv is not None and n_head != n_head_kv:
        n_head = n_head_kv
    return w.reshape(n_head, 2, w.shape[0] // n_head // 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)
PARTS = {'self_attn.q_proj': 'attn_q', 'self_attn.k_proj': 'attn_k', 'self_attn.v_proj': 'attn_v', 'self_attn.o_proj': 'attn_output',
         'mlp.gate_proj': 'ffn_gate', 'mlp.up_proj': 'ffn_up', 'mlp.down_proj': 'ffn_down', 'input_layernorm': 'attn_norm',
         'post_attention_layernorm': 'ffn_norm'}
def gguf_tensors():
    t = {'token_embd.weight': hf['model.embed_tokens.weight'], 'output_norm.weight': hf['model.norm.weight'], 'output.weight': hf['lm_head.weight']}
    for i in range(L):
        for k, v in PARTS.items():
            w = hf[f'model.layers.{i}.{k}.weight']
            if v == 'attn_q': w = permute(w, NH, NH)
            if v == 'attn_k': w = permute(w, NH, NKV)
            t[f'blk.{i}.{v}.weight'] = w
    return t
def write(name, arch='llama', drop_keys=(), extra_keys={}, drop_tensors=(), extra_tensors={}):
    w = gguf.GGUFWriter(f'{out}/{name}.gguf', arch)
    keys = {'context_length': 128, 'embedding_length': H, 'feed_forward_length': I, 'block_count': L,
            'attention.head_count': NH, 'attention.head_count_kv': NKV, 'rope.dimension_count': D}
    for k, v in keys.items():
        if k not in drop_keys: w.add_uint32(f'{arch}.{k}', v)
    w.add_float32(f'{arch}.attention.layer_norm_rms_epsilon', 1e-5)
    w.add_float32(f'{arch}.rope.freq_base', 500000.0)
    w.add_uint32('tokenizer.ggml.bos_token_id', 1); w.add_uint32('tokenizer.ggml.eos_token_id', 2)
    for k, v in extra_keys.items(): w.add_key_value(k, v[0], v[1])
    for k, v in {**gguf_tensors(), **extra_tensors}.items():
        if k not in drop_tensors: w.add_tensor(k, v)
    w.write_header_to_file(); w.write_kv_data_to_file(); w.write_tensors_to_file(); w.close()
T = gguf.GGUFValueType
write('good')
write('arch', arch='gemma')
write('nokey', drop_keys=('embedding_length',))
write('partial', drop_keys=('rope.dimension_count',), extra_keys={'llama.rope.dimension_count': (4, T.UINT32)})
write('yarn', extra_keys={'llama.rope.scaling.type': ('yarn', T.STRING)})
write('freqs', extra_tensors={'rope_freqs.weight': np.ones(D // 2, dtype=np.float32)})
write('extra', extra_tensors={'blk.0.attn_gate.weight': np.ones((4, H), dtype=np.float32)})
write('missing', drop_tensors=('blk.1.ffn_up.weight',))
write('shape', extra_tensors={'output_norm.weight': np.ones(H + 1, dtype=np.float32)})
print('ok')
`;

describe('Llama from GGUF (files made like llama.cpp converts HF checkpoints)', function () {
  this.timeout(300000); // the first peer call of a run also checks the venv (imports torch): slow on a loaded machine
  let dir: string;
  before(() => {
    dir = tmpDir('rankdistill-gguf-llama-');
    expect(runPeer(WRITER, [dir]).trim()).to.equal('ok');
  });

  it('loads the same parameters as the HF checkpoint (Q/K un-permuted, untied head, GQA) and the same logits', () => {
    const a = LlamaModel.fromDir(path.join(dir, 'good.gguf'));
    const b = LlamaModel.fromDir(path.join(dir, 'hf'));
    try {
      // The GGUF stores eps as float32; everything else is the HF config's.
      expect({ ...a.config, rms_norm_eps: 1e-5 }).to.deep.equal({ ...b.config, pad_token_id: null });
      expect(a.config.rms_norm_eps).to.equal(Math.fround(1e-5));
      expect(a.params.names().sort()).to.deep.equal(b.params.names().sort());
      for (const n of b.params.names()) expect(Array.from(a.params.get(n).dataSync()), n).to.deep.equal(Array.from(b.params.get(n).dataSync()));
      const ids = tf.tensor2d([[3, 17, 42, 5, 60, 1]], undefined, 'int32');
      const la = tf.tidy(() => a.logits(a.forward({ inputIds: ids }).lastHiddenState).dataSync());
      const lb = tf.tidy(() => b.logits(b.forward({ inputIds: ids }).lastHiddenState).dataSync());
      // Only the float32 rounding of eps differs.
      expectClose(la, lb, 1e-6, 1e-6, 'logits');
      ids.dispose();
    } finally {
      a.dispose();
      b.dispose();
    }
  });

  it('maps GGUF tensor names and undoes the permutation exactly', () => {
    expect(hfLlamaName('blk.3.attn_output.weight')).to.equal('model.layers.3.self_attn.o_proj.weight');
    expect(hfLlamaName('blk.0.ffn_norm.weight')).to.equal('model.layers.0.post_attention_layernorm.weight');
    expect(hfLlamaName('output.weight')).to.equal('lm_head.weight');
    expect(hfLlamaName('blk.0.attn_gate.weight')).to.equal(null);
    // One head of width 4, 1 column: llama.cpp stores rows [0, 2, 1, 3].
    expect(Array.from(unpermuteQK(new Float32Array([0, 2, 1, 3]), 4, 1))).to.deep.equal([0, 1, 2, 3]);
  });

  const cases: Array<[string, RegExp]> = [
    ['arch', /field 'general.architecture': architecture 'gemma' is not supported/],
    ['nokey', /field 'llama.embedding_length': required metadata key is missing/],
    ['partial', /field 'llama.rope.dimension_count': partial rotary embeddings \(4 of 8/],
    ['yarn', /field 'llama.rope.scaling.type': RoPE scaling 'yarn' is not supported/],
    ['freqs', /tensor 'rope_freqs.weight' .* is not supported/],
    ['extra', /tensors not used by a 2-layer Llama model: blk\.0\.attn_gate\.weight/],
    ['missing', /missing tensors for parameters: model\.layers\.1\.mlp\.up_proj\.weight/],
    ['shape', /tensor 'output_norm.weight' has shape \[33\] but the model config expects \[32\]/],
  ];
  for (const [name, want] of cases) {
    it(`rejects ${name}.gguf with an error naming the file and the key or tensor`, () => {
      const f = path.join(dir, `${name}.gguf`);
      const before = tf.memory().numTensors;
      const fds = fs.readdirSync('/proc/self/fd').length;
      let err: unknown = null;
      try {
        LlamaModel.fromDir(f).dispose();
      } catch (e) {
        err = e;
      }
      expect(err, name).to.be.instanceOf(InputError);
      expect((err as Error).message).to.include(f);
      expect((err as Error).message).to.match(want);
      expect(tf.memory().numTensors, 'weights freed after the error').to.equal(before);
      expect(fs.readdirSync('/proc/self/fd').length, 'the file is closed after the error').to.equal(fds);
    });
  }
});

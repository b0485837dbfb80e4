// Interop with the peer (PyTorch + HF transformers): a Llama/Qwen2 checkpoint saved here loads in
// LlamaForCausalLM / Qwen2ForCausalLM with the same logits, and one saved by transformers (5.x layout:
// rope_parameters, dtype) loads here with the same logits and the same greedy continuation.
import { expect } from 'chai';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { readSafetensors } from '../../src/io/safetensors.js';
import { generate } from '../../src/models/llama/generation.js';
import { LlamaModel } from '../../src/models/llama/model.js';
import type { LlamaConfig } from '../../src/models/llama/config.js';
import { expectClose, tmpDir } from '../helpers.js';
import { runPeer } from '../peer.js';

// Right-padded batch (pad 0), positions 0..T-1 as HF's default.
const IDS = [
  [1, 17, 250, 33, 91, 400, 7, 12],
  [1, 300, 5, 77, 0, 0, 0, 0],
];
const MASK = IDS.map((r, b) => r.map((_, s) => (b === 1 && s >= 4 ? 0 : 1)));

// One peer process for all cases (starting torch + transformers dominates the time): loads each of our
// checkpoints and reports its class and logits, then creates, saves and runs an HF model.
const PY = `
import json, sys, torch
from transformers import AutoModelForCausalLM, LlamaConfig, LlamaForCausalLM
torch.set_num_threads(2)
b = json.loads(sys.argv[1])
ids, mask = torch.tensor(b["ids"]), torch.tensor(b["mask"])
out = {"ours": []}
for d in sys.argv[3:]:
    model = AutoModelForCausalLM.from_pretrained(d, attn_implementation="eager").eval()
    with torch.no_grad():
        out["ours"].append({"cls": type(model).__name__, "logits": model(input_ids=ids, attention_mask=mask).logits.flatten().tolist()})
torch.manual_seed(5)
cfg = LlamaConfig(vocab_size=500, hidden_size=48, intermediate_size=80, num_hidden_layers=2, num_attention_heads=6,
                  num_key_value_heads=2, max_position_embeddings=128, rms_norm_eps=1e-6, attention_bias=True,
                  mlp_bias=True, tie_word_embeddings=False, rope_theta=10000.0, bos_token_id=1, eos_token_id=2)
model = LlamaForCausalLM(cfg).eval()
with torch.no_grad():
    for n, p in sorted(model.named_parameters()):
        p.add_(torch.randn_like(p) * 0.1)
model.save_pretrained(sys.argv[2], safe_serialization=True)
with torch.no_grad():
    logits = model(input_ids=ids, attention_mask=mask).logits
    gen = model.generate(ids[:1], max_new_tokens=6, do_sample=False, eos_token_id=None, pad_token_id=0)
out["hf"] = {"logits": logits.flatten().tolist(), "gen": gen[0].tolist()[ids.shape[1]:]}
print(json.dumps(out))
`;

function ourLogits(model: LlamaModel): number[] {
  return tf.tidy(() => {
    const out = model.forward({ inputIds: tf.tensor2d(IDS, undefined, 'int32'), attentionMask: tf.tensor2d(MASK, undefined, 'int32') });
    return Array.from(model.logits(out.lastHiddenState).dataSync());
  });
}

/** Logits at valid positions only (HF's padded positions are not meaningful). */
function validOnly(flat: number[], vocab: number): number[] {
  const T = IDS[0].length;
  const out: number[] = [];
  MASK.forEach((r, b) => r.forEach((m, s) => m && out.push(...flat.slice((b * T + s) * vocab, (b * T + s + 1) * vocab))));
  return out;
}

const CONFIGS: Array<[string, Partial<LlamaConfig>, string]> = [
  [
    'Llama 3 style: tied, llama3 RoPE scaling, head_dim 24, GQA 4/2, attention and MLP biases',
    {
      vocab_size: 500, hidden_size: 64, intermediate_size: 96, num_hidden_layers: 2, num_attention_heads: 4, num_key_value_heads: 2,
      head_dim: 24, max_position_embeddings: 256, rms_norm_eps: 1e-5, rope_theta: 500000, tie_word_embeddings: true,
      attention_bias: true, mlp_bias: true,
      rope_scaling: { rope_type: 'llama3', factor: 8, low_freq_factor: 1, high_freq_factor: 4, original_max_position_embeddings: 64 },
    },
    'LlamaForCausalLM',
  ],
  [
    'Qwen2 style: q/k/v biases only, untied',
    { model_type: 'qwen2', vocab_size: 500, hidden_size: 48, intermediate_size: 64, num_hidden_layers: 2, num_attention_heads: 4, num_key_value_heads: 1, rms_norm_eps: 1e-6, rope_theta: 1e6 },
    'Qwen2ForCausalLM',
  ],
];

describe('Llama interop with HF transformers (PyTorch peer)', function () {
  this.timeout(900000);
  const root = tmpDir();
  const models: LlamaModel[] = [];
  let peer: { ours: Array<{ cls: string; logits: number[] }>; hf: { logits: number[]; gen: number[] } };
  before(() => {
    CONFIGS.forEach(([, config], i) => {
      const model = new LlamaModel(config, 3 + i);
      // Move every weight off its initial value (unit norms, zero biases) so each tensor's layout is seen.
      tf.tidy(() => {
        for (const [, v] of model.params.trainable()) v.assign(tf.add(v, tf.randomNormal(v.shape, 0, 0.1, 'float32', 9 + i)));
      });
      model.save(path.join(root, `ours-${i}`));
      models.push(model);
    });
    peer = JSON.parse(runPeer(PY, [JSON.stringify({ ids: IDS, mask: MASK }), path.join(root, 'hf'), ...CONFIGS.map((_, i) => path.join(root, `ours-${i}`))]));
  });
  after(() => models.forEach((m) => m.dispose()));

  CONFIGS.forEach(([what, config, cls], i) => {
    it(`a checkpoint saved here loads in transformers with the same logits (${what})`, () => {
      const model = models[i];
      const dir = path.join(root, `ours-${i}`);
      const names = [...readSafetensors(path.join(dir, 'model.safetensors')).tensors.keys()];
      if (config.tie_word_embeddings) expect(names).to.not.include('lm_head.weight');
      expect(peer.ours[i].cls).to.equal(cls);
      const V = model.config.vocab_size;
      expectClose(validOnly(peer.ours[i].logits, V), validOnly(ourLogits(model), V), 1e-4, 1e-3, 'HF logits of our checkpoint');
      const back = LlamaModel.fromDir(dir);
      expect(ourLogits(back)).to.deep.equal(ourLogits(model));
      back.dispose();
    });
  });

  it('a checkpoint saved by transformers 5.x loads here with the same logits and greedy tokens', async () => {
    const model = LlamaModel.fromDir(path.join(root, 'hf'));
    expect(model.config.attention_bias).to.equal(true);
    expect(model.config.head_dim).to.equal(8);
    expectClose(validOnly(ourLogits(model), 500), validOnly(peer.hf.logits, 500), 1e-4, 1e-3, 'our logits of the HF checkpoint');
    const r = await generate(model, [IDS[0]], { maxNewTokens: 6, eosTokenId: null });
    expect(r.newTokens[0]).to.deep.equal(peer.hf.gen);
    model.dispose();
  });
});

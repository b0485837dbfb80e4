// Interop with the peer (PyTorch + HF transformers), both T5 variants: what we save loads in
// T5ForConditionalGeneration with the same logits and greedy tokens, and what transformers'
// save_pretrained writes loads here with the same logits and greedy tokens.
import { expect } from 'chai';
import fs from 'node:fs';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import type { T5Config } from '../../src/models/t5/config.js';
import { generate } from '../../src/models/t5/generation.js';
import { loadT5, T5Model } from '../../src/models/t5/model.js';
import { T5Ranker } from '../../src/models/t5/rankers.js';
import { dataPath, expectClose, tmpDir } from '../helpers.js';
import { runPeer } from '../peer.js';

// Encoder inputs longer than relative_attention_max_distance (20) reach the logarithmic buckets; row 1 is padded.
const ENC_LEN = 30;
const BATCH = {
  ids: [Array.from({ length: ENC_LEN }, (_, i) => 3 + ((i * 37) % 500)), [...Array.from({ length: 17 }, (_, i) => 5 + ((i * 11) % 400)), 1, ...new Array(ENC_LEN - 18).fill(0)]],
  mask: [new Array(ENC_LEN).fill(1), [...new Array(18).fill(1), ...new Array(ENC_LEN - 18).fill(0)]],
  dec: [[0, 17, 42, 99, 7], [0, 5, 6, 7, 8]],
};
const GEN_STEPS = 6;

// One peer process for all four directions (starting torch dominates the time).
// use_cache=False: transformers 5.17 sizes its cache by num_layers and fails when num_decoder_layers differs.
const PY = `
import json, sys, torch
from transformers import T5Config, T5ForConditionalGeneration
torch.set_num_threads(2)
root = sys.argv[1]
b = json.loads(open(root + "/batch.json").read())
ids, mask = torch.tensor(b["ids"]), torch.tensor(b["mask"])

def run(model):
    with torch.no_grad():
        out = model(input_ids=ids, attention_mask=mask, decoder_input_ids=torch.tensor(b["dec"]), use_cache=False)
        gen = model.generate(input_ids=ids, attention_mask=mask, max_new_tokens=${GEN_STEPS}, min_new_tokens=${GEN_STEPS},
                             do_sample=False, num_beams=1, use_cache=False)
    return {"logits": out.logits.flatten().tolist(), "gen": gen[:, 1:].tolist(),
            "tied": model.lm_head.weight.data_ptr() == model.shared.weight.data_ptr()}

res = {}
for v in ["v1_0", "v1_1"]:
    model = T5ForConditionalGeneration.from_pretrained(f"{root}/ours-{v}", attn_implementation="eager").eval()
    res[f"ours-{v}"] = run(model)
    torch.manual_seed(11)
    v11 = v == "v1_1"
    cfg = T5Config(vocab_size=512, d_model=32, d_kv=8, d_ff=48, num_layers=2, num_decoder_layers=3, num_heads=4,
                   relative_attention_num_buckets=16, relative_attention_max_distance=20,
                   feed_forward_proj="gated-gelu" if v11 else "relu", tie_word_embeddings=not v11,
                   decoder_start_token_id=0, pad_token_id=0, eos_token_id=1)
    model = T5ForConditionalGeneration(cfg).eval()
    with torch.no_grad():
        for n, p in sorted(model.named_parameters()):
            if "layer_norm" in n: p.uniform_(0.8, 1.2)
            else: p.normal_(0, 1.0 if ("shared" in n or "relative_attention_bias" in n) else 0.2)
    if v11:
        # 5.x ties lm_head whenever it builds a T5 from a config: give the head its own weights (as flan-T5 has).
        model.lm_head.weight = torch.nn.Parameter(torch.randn(512, 32))
        model.config.tie_word_embeddings = False
    model.save_pretrained(f"{root}/hf-{v}", safe_serialization=True)
    r = run(model)
    r["config"] = json.load(open(f"{root}/hf-{v}/config.json"))
    res[f"hf-{v}"] = r
# A TWOLAR ranker saved by rankdistill (config with its 'rankdistill' block, tokenizer files): HF scores it the same.
from transformers import AutoTokenizer
tok = AutoTokenizer.from_pretrained(f"{root}/ranker")
model = T5ForConditionalGeneration.from_pretrained(f"{root}/ranker", attn_implementation="eager").eval()
pairs = json.loads(open(root + "/pairs.json").read())
enc = tok([f"Query: {q} Document: {d} Relevant:" for q, d in pairs], return_tensors="pt", padding=True)
t, f = tok.convert_tokens_to_ids(["\u2581true", "\u2581false"])
with torch.no_grad():
    z = model(**enc, decoder_input_ids=torch.zeros(len(pairs), 1, dtype=torch.long), use_cache=False).logits[:, 0, :]
res["ranker"] = {"scores": (z[:, t] - z[:, f]).tolist(), "ids": enc["input_ids"].tolist()}
print(json.dumps(res))
`;

interface PeerRun {
  logits: number[];
  gen: number[][];
  tied: boolean;
  config?: Record<string, unknown>;
}

function ours(model: T5Model): number[] {
  return tf.tidy(() =>
    Array.from(
      model
        .forward({
          inputIds: tf.tensor2d(BATCH.ids, undefined, 'int32'),
          attentionMask: tf.tensor2d(BATCH.mask, undefined, 'int32'),
          decoderInputIds: tf.tensor2d(BATCH.dec, undefined, 'int32'),
        })
        .logits.dataSync(),
    ),
  );
}

async function oursGreedy(model: T5Model): Promise<number[][]> {
  const ids = tf.tensor2d(BATCH.ids, undefined, 'int32');
  const mask = tf.tensor2d(BATCH.mask, undefined, 'int32');
  const g = await generate(model, ids, mask, { maxNewTokens: GEN_STEPS, eosTokenId: -1 });
  tf.dispose([ids, mask]);
  return g;
}

const VARIANTS: Array<{ name: 'v1_0' | 'v1_1'; config: Partial<T5Config> }> = [
  { name: 'v1_0', config: { feed_forward_proj: 'relu', tie_word_embeddings: true } },
  { name: 'v1_1', config: { feed_forward_proj: 'gated-gelu', tie_word_embeddings: false } },
];

describe('T5 interop with HF transformers (PyTorch peer)', function () {
  this.timeout(900000);
  const dir = tmpDir();
  const mine = new Map<string, T5Model>();
  let peer: Record<string, PeerRun> & { ranker: { scores: number[]; ids: number[][] } };
  let ranker: T5Ranker;
  const PAIRS: Array<[string, string]> = [
    ['who wrote Frankenstein', "Mary Shelley's novel was first published anonymously in London in 1818."],
    ['boiling point of water', 'At higher altitudes the air pressure is lower, so water boils at a lower temperature.'],
  ];

  before(async () => {
    ranker = T5Ranker.create({ vocab_size: 32128, d_model: 32, d_kv: 8, d_ff: 48, num_layers: 2, num_heads: 4, feed_forward_proj: 'gated-gelu', tie_word_embeddings: false }, { head: 'twolar', tokenizer: dataPath('t5-small-spiece'), seed: 5 });
    await ranker.save(path.join(dir, 'ranker'));
    fs.writeFileSync(path.join(dir, 'pairs.json'), JSON.stringify(PAIRS));
    fs.writeFileSync(path.join(dir, 'batch.json'), JSON.stringify(BATCH));
    for (const v of VARIANTS) {
      const model = new T5Model(
        { vocab_size: 512, d_model: 32, d_kv: 8, d_ff: 48, num_layers: 2, num_decoder_layers: 3, num_heads: 4, relative_attention_num_buckets: 16, relative_attention_max_distance: 20, ...v.config },
        7,
      );
      // Random non-trivial values everywhere (RMS norm weights start at 1).
      tf.tidy(() => {
        for (const [, w] of model.params.trainable()) w.assign(tf.add(w, tf.randomNormal(w.shape, 0, 0.1, 'float32', 3)));
      });
      model.save(path.join(dir, `ours-${v.name}`));
      mine.set(v.name, model);
    }
    peer = JSON.parse(runPeer(PY, [dir])) as typeof peer;
  });
  after(() => {
    ranker.dispose();
    for (const m of mine.values()) m.dispose();
  });

  it('a TWOLAR ranker saved by rankdistill (with tokenizer files) gives the same scores in transformers', async () => {
    const ids = await ranker.encodeIds(PAIRS);
    ids.forEach((row, i) => expect(peer.ranker.ids[i].slice(0, row.length), 'HF tokenizer ids').to.deep.equal(row));
    expectClose(peer.ranker.scores, await ranker.score(PAIRS), 1e-4, 1e-3, 'TWOLAR scores in HF');
  });

  for (const v of VARIANTS) {
    it(`${v.name}: a checkpoint saved by rankdistill loads in T5ForConditionalGeneration with the same logits and greedy tokens`, async () => {
      const model = mine.get(v.name)!;
      const p = peer[`ours-${v.name}`];
      expect(p.tied).to.equal(v.name === 'v1_0');
      expectClose(p.logits, ours(model), 1e-4, 1e-3, `${v.name} HF logits of our checkpoint`);
      expect(p.gen).to.deep.equal(await oursGreedy(model));
      const back = loadT5(path.join(dir, `ours-${v.name}`)).model;
      expect(ours(back)).to.deep.equal(ours(model));
      back.dispose();
    });

    it(`${v.name}: a checkpoint saved by HF save_pretrained loads here with the same logits and greedy tokens`, async () => {
      const p = peer[`hf-${v.name}`];
      const model = loadT5(path.join(dir, `hf-${v.name}`)).model;
      // transformers 5.x writes tie_word_embeddings true for v1.1 too, with the meaning in scale_decoder_outputs.
      expect(model.config.tie_word_embeddings).to.equal(v.name === 'v1_0');
      expect(model.config.scale_decoder_outputs).to.equal(v.name === 'v1_0');
      expect(model.config.num_decoder_layers).to.equal(3);
      const got = ours(model);
      console.log(`      ${v.name}: max |logit| ${Math.max(...p.logits.map(Math.abs)).toFixed(2)}, max |Δ| ${Math.max(...got.map((g, i) => Math.abs(g - p.logits[i]))).toExponential(2)}`);
      expectClose(got, p.logits, 1e-4, 1e-3, `${v.name} our logits of the HF checkpoint`);
      expect(await oursGreedy(model)).to.deep.equal(p.gen);
      console.log(`      HF ${v.name} config.json: tie_word_embeddings=${p.config!.tie_word_embeddings} scale_decoder_outputs=${p.config!.scale_decoder_outputs}`);
      model.dispose();
    });
  }
});

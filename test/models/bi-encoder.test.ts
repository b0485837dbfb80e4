// BiEncoder against the PyTorch peer on the real all-MiniLM-L6-v2: sentence embeddings equal to
// SentenceTransformer.encode (1e-5) on 50 varied texts, token states equal to transformers' BertModel
// (the BERT tolerance), and folders we save load in SentenceTransformer with equal embeddings, for
// every pooling mode. One peer process computes every reference (cached for the whole file).
import { expect } from 'chai';
import fs from 'node:fs';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { readBm25Json } from '../../src/data/index.js';
import { readSafetensors, type StoredTensor } from '../../src/io/safetensors.js';
import { BiEncoder, type BiEncoderOptions } from '../../src/models/bi-encoder/index.js';
import { batchToTensors, TextTokenizer } from '../../src/tokenization/tokenizer.js';
import { dataPath, expectClose, expectNoLeak, tmpDir } from '../helpers.js';
import { runPeer } from '../peer.js';
import { MINILM, pretrainedDir } from '../pretrained.js';

// The BERT parity tolerance (bert-parity.test.ts), for token states.
const STATE_ATOL = 1e-4;
const STATE_RTOL = 1e-3;
// The issue's bound for sentence embeddings.
const EMB_ATOL = 1e-5;

/** 50 texts: queries, real DL19 passages, texts longer than 256 tokens (truncated), unicode, empty-ish. */
async function texts50(): Promise<string[]> {
  const dl19 = await readBm25Json(dataPath('trec-dl-2019-passage', 'bm25-top100.json'));
  const passages = dl19.slice(0, 10).map((c) => c.hits[3].text);
  const queries = dl19.slice(10, 22).map((c) => c.query);
  const long = [
    dl19[0].hits.slice(0, 8).map((h) => h.text).join(' '),
    dl19[1].hits.slice(0, 5).map((h) => h.text).join('\n\n'),
    'word '.repeat(600),
    `${'supercalifragilisticexpialidocious '.repeat(40)}end`,
  ];
  const unicode = [
    'Ça coûte 12 € — très cher, n’est-ce pas ?',
    'Straße, Fußgängerübergänge und Öffnungszeiten',
    '東京タワーの高さは333メートルです。',
    '北京是中国的首都',
    'مرحبا بالعالم',
    'Привет, как дела?',
    'emoji test 🚀🔥 with 👩‍👩‍👧 family',
    'e\u0301le\u0300ve (combining accents)',
    'ＦＵＬＬＷＩＤＴＨ ｔｅｘｔ',
    'ﬁnancial ligature ﬂow',
    'Ελληνικά γράμματα',
    '\u00a0non-breaking\u2009thin\u200bzero-width spaces',
  ];
  const odd = ['', ' ', '\t\n', '.', '?!', 'a', '[SEP] [CLS] literal markers', 'UPPER CASE QUERY', '   leading and trailing   ', '3.14159 2,718 1e-9 #42 @user', 'x'.repeat(300), 'the the the the'];
  const all = [...queries, ...passages, ...long, ...unicode, ...odd];
  expect(all.length).to.equal(50);
  return all;
}

// Saved folders checked for interop: [name, options over the tiny random BERT, or null for MiniLM as loaded].
const VARIANTS: Array<[string, BiEncoderOptions | null]> = [
  ['minilm', null],
  ['cls', { pooling: 'cls' }],
  ['max', { pooling: 'max', normalize: false }],
  ['mean_sqrt_len', { pooling: 'mean_sqrt_len_tokens' }],
  ['weightedmean', { pooling: 'weightedmean', normalize: false }],
  ['lasttoken', { pooling: 'lasttoken' }],
  // Legacy key order (cls, mean) and an order only the newer `pooling_mode` list can state.
  ['cls_mean', { pooling: ['cls', 'mean'], normalize: false }],
  ['max_cls', { pooling: ['max', 'cls'] }],
];

const PY = `
import json, sys, torch, numpy as np
from safetensors.numpy import save_file
from sentence_transformers import SentenceTransformer
from transformers import AutoModel
torch.set_num_threads(2)
minilm, texts_file, out, saved = sys.argv[1], sys.argv[2], sys.argv[3], json.loads(sys.argv[4])
texts = json.load(open(texts_file))
res, info = {}, {}
st = SentenceTransformer(minilm, device="cpu")
info["max_seq_length"] = st.max_seq_length
res["st"] = st.encode(texts, batch_size=16, convert_to_numpy=True).astype(np.float32)
tok = st[0].tokenizer
enc = tok(texts, padding=True, truncation="longest_first", max_length=st.max_seq_length, return_tensors="pt")
bert = AutoModel.from_pretrained(minilm, attn_implementation="eager").eval()
info["bert_class"] = type(bert).__name__
with torch.no_grad():
    h = bert(input_ids=enc["input_ids"], attention_mask=enc["attention_mask"], token_type_ids=enc["token_type_ids"]).last_hidden_state
res["ids"] = enc["input_ids"].numpy().astype(np.int32)
res["mask"] = enc["attention_mask"].numpy().astype(np.int32)
res["hidden"] = h.numpy().astype(np.float32)
for name, folder in saved.items():
    m = SentenceTransformer(folder, device="cpu")
    info[name] = [type(x).__name__ for x in m] + [m.max_seq_length, m.similarity_fn_name]
    res["saved_" + name] = m.encode(texts, batch_size=32, convert_to_numpy=True).astype(np.float32)
save_file({k: np.ascontiguousarray(v) for k, v in res.items()}, out)
print(json.dumps(info))
`;

describe('BiEncoder parity with sentence-transformers and transformers (real all-MiniLM-L6-v2)', function () {
  this.timeout(600000);
  let texts: string[];
  let minilm: BiEncoder;
  const ours = new Map<string, BiEncoder>();
  const saved: Record<string, string> = {};
  let ref: Map<string, StoredTensor>;
  let info: Record<string, unknown>;

  before(async () => {
    texts = await texts50();
    const dir = tmpDir();
    minilm = await BiEncoder.fromPretrained(await pretrainedDir(MINILM));
    const tok = TextTokenizer.fromDir(dataPath('ms-marco-TinyBERT-L-2-v2-tokenizer-config'));
    for (const [name, opts] of VARIANTS) {
      let m = minilm;
      if (opts) {
        m = new BiEncoder({ hidden_size: 32, num_hidden_layers: 2, num_attention_heads: 2, intermediate_size: 64, max_position_embeddings: 128 }, { tokenizer: tok, seed: 5, ...opts });
        // Off the initial values everywhere (LayerNorm 1, biases 0), so each tensor's layout is seen.
        tf.tidy(() => {
          for (const [, v] of m.trainableVariables()) v.assign(tf.add(v, tf.randomNormal(v.shape, 0, 0.05, 'float32', 9)));
        });
      }
      ours.set(name, m);
      saved[name] = path.join(dir, name);
      await m.save(saved[name]);
    }
    const textsFile = path.join(dir, 'texts.json');
    fs.writeFileSync(textsFile, JSON.stringify(texts));
    const out = path.join(dir, 'ref.safetensors');
    info = JSON.parse(runPeer(PY, [await pretrainedDir(MINILM), textsFile, out, JSON.stringify(saved)])) as Record<string, unknown>;
    ref = readSafetensors(out).tensors;
  });

  after(() => {
    for (const m of new Set([minilm, ...ours.values()])) m?.dispose();
  });

  it('reads the folder as sentence-transformers does (max_seq_length 256, mean pooling, Normalize)', () => {
    expect(minilm.maxSeqLength).to.equal(256).and.equal(info.max_seq_length);
    expect(minilm.pooling).to.deep.equal(['mean']);
    expect(minilm.normalize).to.equal(true);
    expect(minilm.dimension).to.equal(384);
  });

  it('encode gives SentenceTransformer.encode embeddings within 1e-5 on 50 varied texts', async () => {
    const got = await expectNoLeak(() => minilm.embed(texts, { batchSize: 7 }), 'embed');
    const want = ref.get('st')!.values;
    expectClose(got, want, EMB_ATOL, 0, 'embedding');
    // Batch composition does not matter beyond float rounding; rows keep input order.
    const one = await minilm.encode(texts.slice(0, 3), { batchSize: 1 });
    for (let i = 0; i < 3; i++) expectClose(one[i], want.subarray(i * 384, (i + 1) * 384), EMB_ATOL, 0, `text ${i} alone`);
  });

  it('tokenises like the HF tokenizer (truncation at 256) and gives BertModel token states', async () => {
    const enc = await minilm.tokenize(texts);
    const ids = ref.get('ids')!;
    const [n, L] = ids.shape;
    expect(enc.seqLen).to.equal(L).and.equal(256);
    expect(Array.from(enc.inputIds)).to.deep.equal(Array.from(ids.values));
    expect(Array.from(enc.attentionMask)).to.deep.equal(Array.from(ref.get('mask')!.values));
    expect(enc.lengths.filter((l) => l === 256).length, 'texts truncated').to.equal(4);
    const hidden = ref.get('hidden')!.values;
    // Ten texts per forward pass; only real (unpadded) positions are compared.
    for (let s = 0; s < n; s += 10) {
      const part = await minilm.tokenize(texts.slice(s, s + 10));
      const got = await expectNoLeak(() => tf.tidy(() => minilm.bert.forward(batchToTensors(part)).lastHiddenState.arraySync()), 'forward');
      got.forEach((row, r) => {
        const len = part.lengths[r];
        const want = hidden.subarray((s + r) * L * 384, (s + r) * L * 384 + len * 384);
        expectClose(row.slice(0, len).flat(), want, STATE_ATOL, STATE_RTOL, `text ${s + r} token states`);
      });
    }
  });

  for (const [name, opts] of VARIANTS) {
    it(`a saved folder (${opts ? `tiny BERT, pooling ${JSON.stringify(opts.pooling)}, normalize ${opts.normalize ?? true}` : 'all-MiniLM-L6-v2'}) loads in SentenceTransformer with equal embeddings`, async () => {
      const m = ours.get(name)!;
      expect(info[name]).to.deep.equal(['Transformer', 'Pooling', ...(m.normalize ? ['Normalize'] : []), m.maxSeqLength, 'cosine']);
      const got = await m.embed(texts, { batchSize: 16 });
      expectClose(ref.get(`saved_${name}`)!.values, got, EMB_ATOL, 0, `SentenceTransformer(${name})`);
      // Our own reload is exact (same weights, same batches).
      const back = await BiEncoder.fromPretrained(saved[name]);
      expect(back.pooling).to.deep.equal(m.pooling);
      expect(back.normalize).to.equal(m.normalize);
      expect(back.maxSeqLength).to.equal(m.maxSeqLength);
      const some = texts.slice(0, 16);
      expect(Array.from(await back.embed(some, { batchSize: 16 }))).to.deep.equal(Array.from(await m.embed(some, { batchSize: 16 })));
      back.dispose();
    });
  }
});

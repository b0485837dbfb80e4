// SmolLM2-135M-Instruct from its real GGUF file (Q4_1 / Q8_0 / F32 tensors) against HF transformers'
// GGUF loader (from_pretrained(dir, gguf_file=...), which dequantises with gguf-py and undoes
// llama.cpp's Q/K row permutation), all in ONE Python process that loads the model once:
//   - what we save() is transformers' dequantised state dict, exactly, and LlamaForCausalLM loads it
//     with the same logits;
//   - logits on 5 prompts (one chat-templated) within 1e-4 + 1e-3·|v|, at every position;
//   - 20 greedily generated tokens identical;
//   - token ids on 30 strings identical to transformers' tokenizer with llama.cpp's `smollm`
//     pre-tokenizer; the chat template rendered as transformers renders it.
import { expect } from 'chai';
import fs from 'node:fs';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { GGUFFile } from '../../src/io/gguf.js';
import { generate } from '../../src/models/llama/generation.js';
import { findGgufFile } from '../../src/models/llama/gguf.js';
import { LlamaModel } from '../../src/models/llama/model.js';
import { RraGpt } from '../../src/models/rra-gpt/ranker.js';
import { ChatTemplate } from '../../src/tokenization/chat-template.js';
import { ggufTokenizer, tokenizerFromGguf } from '../../src/tokenization/gguf.js';
import type { TextTokenizer } from '../../src/tokenization/tokenizer.js';
import { InputError } from '../../src/utils/errors.js';
import { expectNoLeak, tmpDir } from '../helpers.js';
import { runPeer } from '../peer.js';
import { pretrainedDir, PRETRAINED_CACHE, SMOLLM2, SMOLLM2_GGUF } from '../pretrained.js';

const ATOL = 1e-4;
const RTOL = 1e-3;

// Unicode, digits, whitespace runs, code, emoji, CJK, special tokens, empty.
const STRINGS = [
  'Hello world', 'The capital of Canada is', '  leading spaces', 'trailing spaces   ', 'tabs\tand\ttabs\t\t',
  'multiple\n\n\nnewlines\r\n', '    4 spaces before digit', 'x  1 (two spaces, digit)', '\n\n1. a numbered list\n2. second',
  'numbers 1234567890 and 3.14159 and -42', 'version v2.0.1-rc3, 1st 2nd 3rd', 'price: $1,299.99 (½ off, ¾ left, x²)',
  'def f(x):\n    return x ** 2  # square\n', 'for (let i = 0; i < 10; i++) { console.log(`${i}`); }', 'SELECT * FROM t WHERE id = 7;',
  'naïve café, résumé, Ærøskøbing, straße', 'Ελληνικά και русский текст', '日本語のテキストと中文文本', '한국어 문장입니다',
  'emoji 😀👍🏽🇨🇦 family 👨‍👩‍👧', 'mixed: abc123def 456ghi', 'email me@example.com or https://example.org/a?b=1&c=2',
  'CamelCaseWord snake_case_word kebab-case-word', "What's up? I'll go, you'd've known, they're here.", '<|im_start|>user\nhi<|im_end|>',
  'special <|endoftext|> in text', '   ', 'a', '', 'العربية नमस्ते 🙂 ok',
];
// transformers' GGUF converter gives every byte-level BPE of a `llama` file the plain GPT-2 regex and
// drops the digit split llama.cpp (and SmolLM2's own tokenizer.json) apply for `smollm`: these strings,
// with whitespace or a space before a numeric character, tokenize differently there.
const TRANSFORMERS_CONVERTER_DIFFERS = new Set([6, 7, 8, 11]);

const SYSTEM = 'Judge whether the document is relevant to the search query.';
const CHATS: Array<{ messages: Array<{ role: string; content: string }>; generation: boolean }> = [
  { messages: [{ role: 'user', content: 'What is the capital of Canada?' }], generation: true },
  { messages: [{ role: 'system', content: SYSTEM }, { role: 'user', content: 'Query: rain\nDocument: Rain falls.' }], generation: true },
  {
    messages: [
      { role: 'user', content: 'hi' },
      { role: 'assistant', content: 'Hello! How can I help?' },
      { role: 'user', content: 'Tell me a joke.' },
    ],
    generation: false,
  },
];

const PROMPTS = [
  'The capital of Canada is',
  // index 1: replaced by the chat-templated conversation CHATS[0]
  '',
  'def fibonacci(n):\n    if n < 2:\n        return n\n    return',
  'Query: what causes acid rain\nDocument: Acid rain is caused by emissions of sulfur dioxide and nitrogen oxide, which react with the water molecules in the atmosphere to produce acids. Is the document relevant?',
  'In 2024, 東京 had 13.96 million residents — naïve café 🎉. The',
];
const GENERATE_CHAT = [{ role: 'user', content: 'Write a short paragraph about the city of Ottawa.' }];

const PEER = String.raw`
import time
T = {}
t0 = time.time()
import sys, json, numpy as np, torch, gguf
from transformers import AutoTokenizer, AutoModelForCausalLM, LlamaForCausalLM
from tokenizers import Tokenizer, pre_tokenizers as pt
T['import'] = time.time() - t0
# One thread: on this shared 2-core machine, torch's two OpenMP threads wait on each other (10x slower under load).
torch.set_num_threads(1)
d, name, saved, tmp = sys.argv[1:5]
inp = json.load(open(tmp + '/inputs.json'))
# transformers parses the file's header three times (tokenizer, config, tensors); gguf-py's reader is a
# read-only memory map, so one instance serves all three (speed only, same values).
_reader, _readers = gguf.GGUFReader, {}
def _cached_reader(path, *a, **k):
    if str(path) not in _readers:
        _readers[str(path)] = _reader(path, *a, **k)
    return _readers[str(path)]
gguf.GGUFReader = _cached_reader
t0 = time.time()
tok = AutoTokenizer.from_pretrained(d, gguf_file=name)
model = AutoModelForCausalLM.from_pretrained(d, gguf_file=name, attn_implementation='eager', dtype=torch.float32).eval()
load_s = time.time() - t0
T['gguf_load'] = load_s
t0 = time.time()
# The same tokenizer with the pre-tokenizer llama.cpp uses for tokenizer.ggml.pre = smollm.
smollm = Tokenizer.from_str(tok.backend_tokenizer.to_str())
smollm.pre_tokenizer = pt.Sequence([pt.Digits(individual_digits=True), pt.ByteLevel(add_prefix_space=False, trim_offsets=True, use_regex=True)])
out = {'load_s': load_s}
out['ids_transformers'] = [tok.encode(s, add_special_tokens=False) for s in inp['strings']]
out['bos_added'] = [tok(s)['input_ids'] != tok.encode(s, add_special_tokens=False) for s in inp['strings']]
out['ids_smollm'] = [smollm.encode(s, add_special_tokens=False).ids for s in inp['strings']]
out['decoded'] = [tok.decode(i) for i in out['ids_smollm']]
out['chats'] = [tok.apply_chat_template(c['messages'], tokenize=False, add_generation_prompt=c['generation']) for c in inp['chats']]
prompts = list(inp['prompts'])
prompts[1] = out['chats'][0]
out['prompt_ids'] = [smollm.encode(p, add_special_tokens=False).ids for p in prompts]
T['tokenize'] = time.time() - t0
t0 = time.time()
saved_model = LlamaForCausalLM.from_pretrained(saved, attn_implementation='eager', dtype=torch.float32).eval()
# Our save() against transformers' dequantised state dict, tensor by tensor.
sd, sd2 = model.state_dict(), saved_model.state_dict()
out['state_dict_max_abs_diff'] = max(float((sd[k] - sd2[k]).abs().max()) for k in sd)
out['state_dict_keys_equal'] = sorted(sd) == sorted(sd2)
out['saved_logits_max_abs_diff'] = 0.0
T['saved_load_compare'] = time.time() - t0
t0 = time.time()
with torch.no_grad():
    for i, ids in enumerate(out['prompt_ids']):
        x = torch.tensor([ids])
        logits = model(x).logits[0]
        logits.numpy().astype(np.float32).tofile(f'{tmp}/logits{i}.f32')
        out['saved_logits_max_abs_diff'] = max(out['saved_logits_max_abs_diff'], float((saved_model(x).logits[0] - logits).abs().max()))
    T['logits'] = time.time() - t0
    t0 = time.time()
    gen_text = tok.apply_chat_template(inp['generate_chat'], tokenize=False, add_generation_prompt=True)
    gen_ids = smollm.encode(gen_text, add_special_tokens=False).ids
    g = model.generate(torch.tensor([gen_ids]), attention_mask=torch.ones(1, len(gen_ids), dtype=torch.long), max_new_tokens=20, do_sample=False, eos_token_id=2, pad_token_id=2)
    out['generate_prompt'] = gen_ids
    out['generated'] = g[0, len(gen_ids):].tolist()
    c = smollm.encode('The capital of Canada is', add_special_tokens=False).ids
    g = model.generate(torch.tensor([c]), attention_mask=torch.ones(1, len(c), dtype=torch.long), max_new_tokens=4, do_sample=False, eos_token_id=2, pad_token_id=2)
    out['canada'] = tok.decode(g[0, len(c):])
    T['generate'] = time.time() - t0
out['timings'] = T
print(json.dumps(out))
`;

interface PeerOut {
  load_s: number;
  timings: Record<string, number>;
  ids_transformers: number[][];
  bos_added: boolean[];
  ids_smollm: number[][];
  decoded: string[];
  chats: string[];
  prompt_ids: number[][];
  state_dict_max_abs_diff: number;
  state_dict_keys_equal: boolean;
  saved_logits_max_abs_diff: number;
  generate_prompt: number[];
  generated: number[];
  canada: string;
}

describe('SmolLM2-135M-Instruct from GGUF vs transformers (real file)', function () {
  this.timeout(600000);
  let dir: string;
  let file: string;
  let model: LlamaModel;
  let tok: TextTokenizer;
  let template: ChatTemplate;
  let tmp: string;
  let peer: PeerOut;

  before(async () => {
    dir = await pretrainedDir(SMOLLM2);
    file = path.join(dir, SMOLLM2_GGUF);
    const t0 = Date.now();
    GGUFFile.with(file, (g) => {
      model = LlamaModel.fromGguf(g);
      tok = tokenizerFromGguf(g);
      const info = ggufTokenizer(g);
      template = new ChatTemplate(info.chatTemplate!, { specialTokens: { bos_token: info.bosToken, eos_token: info.eosToken }, source: file });
    });
    const loadS = (Date.now() - t0) / 1000;
    tmp = tmpDir('rankdistill-smollm2-');
    const saved = path.join(tmp, 'saved');
    model.save(saved);
    fs.writeFileSync(
      path.join(tmp, 'inputs.json'),
      JSON.stringify({ strings: STRINGS, chats: CHATS, prompts: PROMPTS, generate_chat: GENERATE_CHAT }),
    );
    const t1 = Date.now();
    peer = JSON.parse(runPeer(PEER, [dir, SMOLLM2_GGUF, saved, tmp])) as PeerOut;
    fs.rmSync(saved, { recursive: true, force: true });
    console.log(`      (ours: GGUF load ${loadS.toFixed(1)} s; peer process ${((Date.now() - t1) / 1000).toFixed(1)} s, timings ${JSON.stringify(Object.fromEntries(Object.entries(peer.timings).map(([k, v]) => [k, Math.round(v * 10) / 10])))})`);
  });
  after(() => model?.dispose());

  it('maps the metadata onto the Llama config', () => {
    const c = model.config;
    expect([c.vocab_size, c.hidden_size, c.intermediate_size, c.num_hidden_layers, c.num_attention_heads, c.num_key_value_heads, c.head_dim]).to.deep.equal([
      49152, 576, 1536, 30, 9, 3, 64,
    ]);
    expect(c.rope_theta).to.equal(100000);
    expect(c.rms_norm_eps).to.equal(Math.fround(1e-5));
    expect(c.tie_word_embeddings).to.equal(true);
    expect(c.max_position_embeddings).to.equal(8192);
    expect([c.bos_token_id, c.eos_token_id, c.pad_token_id]).to.deep.equal([1, 2, 2]);
  });

  it('saves exactly the weights transformers dequantises, and LlamaForCausalLM loads them with equal logits', () => {
    expect(peer.state_dict_keys_equal).to.equal(true);
    // Same float32 values bit for bit (dequantisation, Q/K un-permutation, names, tied head).
    expect(peer.state_dict_max_abs_diff).to.equal(0);
    expect(peer.saved_logits_max_abs_diff).to.equal(0);
  });

  it('token ids: identical to transformers with the smollm pre-tokenizer on 30 strings; no BOS added', async () => {
    expect(STRINGS.length).to.equal(30);
    const differs: number[] = [];
    for (let i = 0; i < STRINGS.length; i++) {
      const ids = (await tok.encode(STRINGS[i], { addSpecialTokens: false })).ids;
      expect(ids, `string ${i} ${JSON.stringify(STRINGS[i])}`).to.deep.equal(peer.ids_smollm[i]);
      // add_bos_token is false: encoding with special tokens adds nothing, as in transformers.
      expect((await tok.encode(STRINGS[i])).ids, `string ${i} with special tokens`).to.deep.equal(ids);
      expect(peer.bos_added[i]).to.equal(false);
      if (JSON.stringify(ids) !== JSON.stringify(peer.ids_transformers[i])) differs.push(i);
      // Byte-level BPE is lossless; special tokens are kept by transformers' decode here.
      expect(await tok.decode(ids, { skipSpecialTokens: false }), `decode ${i}`).to.equal(peer.decoded[i]);
    }
    expect(differs, "strings where transformers' GGUF converter (no digit split) differs").to.deep.equal([...TRANSFORMERS_CONVERTER_DIFFERS]);
    expect(tok.padId).to.equal(2);
    expect(tok.tokenToId('<|im_start|>')).to.equal(1);
  });

  it('renders the chat template as transformers does', () => {
    CHATS.forEach((c, i) => expect(template.render(c.messages, { addGenerationPrompt: c.generation }), `chat ${i}`).to.equal(peer.chats[i]));
  });

  it('logits within 1e-4 + 1e-3·|v| at every position of 5 prompts (one chat-templated)', async () => {
    let maxAbs = 0;
    let maxRel = 0;
    let worstShare = 0;
    for (let i = 0; i < PROMPTS.length; i++) {
      const text = i === 1 ? template.render(CHATS[0].messages, { addGenerationPrompt: true }) : PROMPTS[i];
      const ids = (await tok.encode(text, { addSpecialTokens: false })).ids;
      expect(ids, `prompt ${i} ids`).to.deep.equal(peer.prompt_ids[i]);
      const want = new Float32Array(new Uint8Array(fs.readFileSync(path.join(tmp, `logits${i}.f32`))).buffer);
      const got = await expectNoLeak(async () => {
        const logits = tf.tidy(() => model.logits(model.forward({ inputIds: tf.tensor2d([ids], undefined, 'int32') }).lastHiddenState));
        const v = (await logits.data()) as Float32Array;
        logits.dispose();
        return v;
      });
      expect(got.length).to.equal(want.length);
      let bad = -1;
      for (let k = 0; k < want.length; k++) {
        const err = Math.abs(got[k] - want[k]);
        maxAbs = Math.max(maxAbs, err);
        maxRel = Math.max(maxRel, err / Math.max(Math.abs(want[k]), 1e-6));
        worstShare = Math.max(worstShare, err / (ATOL + RTOL * Math.abs(want[k])));
        if (!(err <= ATOL + RTOL * Math.abs(want[k])) && bad < 0) bad = k;
      }
      expect(bad, `prompt ${i}: logit ${bad} is ${got[bad]}, transformers ${want[bad]}`).to.equal(-1);
    }
    console.log(
      `      max |Δlogit| ${maxAbs.toExponential(3)}, max relative ${maxRel.toExponential(3)}, worst error / tolerance ${worstShare.toFixed(3)} over ${PROMPTS.length} prompts`,
    );
  });

  it('greedy generation: the same 20 tokens', async () => {
    const r = await expectNoLeak(() => generate(model, [peer.generate_prompt], { maxNewTokens: 20, eosTokenId: 2, padTokenId: 2 }));
    expect(r.newTokens[0]).to.deep.equal(peer.generated);
    expect(r.newTokens[0].length).to.equal(20);
    expect(peer.canada).to.include('Ottawa');
    console.log(`      generated: ${JSON.stringify(await tok.decode(r.newTokens[0]))}`);
  });

  it('finds the GGUF in a folder; several need ggufFile', () => {
    expect(findGgufFile(dir)).to.equal(file);
    expect(findGgufFile(file)).to.equal(file);
    const two = tmpDir('rankdistill-two-gguf-');
    fs.symlinkSync(file, path.join(two, 'a.gguf'));
    fs.symlinkSync(file, path.join(two, 'b.gguf'));
    expect(() => findGgufFile(two)).to.throw(InputError, 'holds 2 GGUF files (a.gguf, b.gguf): pass ggufFile');
    expect(findGgufFile(two, 'b.gguf')).to.equal(path.join(two, 'b.gguf'));
    expect(() => findGgufFile(two, 'c.gguf')).to.throw(InputError, "GGUF file 'c.gguf' not found (GGUF files here: a.gguf, b.gguf)");
  });

  it('RraGpt.fromPretrained by Hub id + ggufFile (from the cache): decoder, tokenizer and chat template from the file', async () => {
    const r = await RraGpt.fromPretrained(SMOLLM2, { ggufFile: SMOLLM2_GGUF, cacheDir: PRETRAINED_CACHE, localFilesOnly: true, maxPromptLength: 96 });
    try {
      const ids = await r.promptIds('what causes acid rain', 'Acid rain is caused by emissions of sulfur dioxide.');
      const text = await r.tokenizer.decode(ids, { skipSpecialTokens: false });
      // The prompt is the chat template's rendering: instruction as system turn, query and document as the user turn.
      expect(text).to.equal(
        template.render(
          [
            { role: 'system', content: r.template.instruction },
            { role: 'user', content: `${r.template.queryPrefix} what causes acid rain\n${r.template.documentPrefix} Acid rain is caused by emissions of sulfur dioxide.\n${r.template.cue}` },
          ],
          { addGenerationPrompt: true },
        ),
      );
      const s = await expectNoLeak(() => r.score([['what causes acid rain', 'Acid rain is caused by emissions of sulfur dioxide.']]));
      expect(Number.isFinite(s[0])).to.equal(true);
    } finally {
      r.dispose();
    }
  });
});

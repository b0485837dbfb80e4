// Llama-family decoders from GGUF files (llama.cpp's format): the metadata mapped onto LlamaConfig, the
// GGUF tensor names onto HF's, every tensor dequantised to float32, and llama.cpp's interleaving of
// the Q and K projection rows undone, as transformers' GGUF loader does
// (modeling_gguf_pytorch_utils.py, LlamaTensorProcessor._reverse_permute_weights).
import fs from 'node:fs';
import path from 'node:path';
import { GGUFFile, isGgufFile } from '../../io/gguf.js';
import type { StoredTensor } from '../../io/safetensors.js';
import { InputError } from '../../utils/errors.js';
import type { Parameters } from '../common/parameters.js';
import { llamaConfig, type LlamaConfig } from './config.js';

/** Architectures (`general.architecture`) read as Llama. llama.cpp also writes Mistral as `llama`. */
const ARCHITECTURES = ['llama'];

/**
 * The GGUF file that `pathOrDir` names or holds, or null when it is not a GGUF checkpoint (an HF
 * folder with config.json + model.safetensors is read as such even if a .gguf lies beside it, unless
 * `ggufFile` asks for it). A folder with several .gguf files needs `ggufFile`.
 */
export function findGgufFile(pathOrDir: string, ggufFile?: string): string | null {
  if (!fs.existsSync(pathOrDir)) return null;
  const isDir = fs.statSync(pathOrDir).isDirectory();
  if (!isDir) {
    if (ggufFile !== undefined && path.basename(pathOrDir) !== ggufFile) {
      throw new InputError(`ggufFile '${ggufFile}' given, but the path names a file`, { file: pathOrDir });
    }
    return pathOrDir.endsWith('.gguf') || isGgufFile(pathOrDir) ? pathOrDir : null;
  }
  const found = fs
    .readdirSync(pathOrDir)
    .filter((f) => f.endsWith('.gguf'))
    .sort();
  if (ggufFile !== undefined) {
    const f = path.join(pathOrDir, ggufFile);
    if (!fs.existsSync(f)) throw new InputError(`GGUF file '${ggufFile}' not found (GGUF files here: ${found.join(', ') || 'none'})`, { file: pathOrDir });
    return f;
  }
  if (fs.existsSync(path.join(pathOrDir, 'config.json')) && fs.existsSync(path.join(pathOrDir, 'model.safetensors'))) return null;
  if (found.length > 1) throw new InputError(`the folder holds ${found.length} GGUF files (${found.join(', ')}): pass ggufFile to pick one`, { file: pathOrDir });
  return found.length ? path.join(pathOrDir, found[0]) : null;
}

/** LlamaConfig from the GGUF metadata (`{arch}.*` keys, as transformers' GGUF_CONFIG_MAPPING reads them). */
export function llamaConfigFromGguf(g: GGUFFile): LlamaConfig {
  const arch = g.string('general.architecture', true);
  if (!ARCHITECTURES.includes(arch)) {
    throw new InputError(`architecture '${arch}' is not supported for Llama models (${ARCHITECTURES.join(', ')})`, { file: g.file, field: 'general.architecture' });
  }
  const key = (k: string) => `${arch}.${k}`;
  const hidden = g.number(key('embedding_length'), true);
  const heads = g.number(key('attention.head_count'), true);
  const headDim = g.number(key('attention.key_length')) ?? Math.floor(hidden / heads);
  const rot = g.number(key('rope.dimension_count'));
  if (rot !== undefined && rot !== headDim) {
    throw new InputError(`partial rotary embeddings (${rot} of ${headDim} head dimensions) are not supported`, { file: g.file, field: key('rope.dimension_count') });
  }
  const scalingType = g.string(key('rope.scaling.type'));
  let rope_scaling: LlamaConfig['rope_scaling'] = null;
  if (scalingType === 'linear') {
    rope_scaling = { rope_type: 'linear', factor: g.number(key('rope.scaling.factor'), true) };
  } else if (scalingType !== undefined && scalingType !== 'none') {
    throw new InputError(`RoPE scaling '${scalingType}' is not supported (none, linear)`, { file: g.file, field: key('rope.scaling.type') });
  }
  if (g.hasTensor('rope_freqs.weight')) {
    throw new InputError("tensor 'rope_freqs.weight' (Llama 3.1-style per-frequency RoPE factors) is not supported", { file: g.file });
  }
  const tokens = g.get('tokenizer.ggml.tokens');
  const vocab = g.number(key('vocab_size')) ?? (Array.isArray(tokens) ? tokens.length : g.tensor('token_embd.weight').shape[0]);
  const tokenId = (k: string) => g.number(`tokenizer.ggml.${k}`) ?? null;
  const qBias = g.hasTensor('blk.0.attn_q.bias');
  try {
    return llamaConfig({
      model_type: 'llama',
      vocab_size: vocab,
      hidden_size: hidden,
      intermediate_size: g.number(key('feed_forward_length'), true),
      num_hidden_layers: g.number(key('block_count'), true),
      num_attention_heads: heads,
      num_key_value_heads: g.number(key('attention.head_count_kv')) ?? heads,
      head_dim: headDim,
      hidden_act: 'silu',
      max_position_embeddings: g.number(key('context_length')) ?? 2048,
      rms_norm_eps: g.number(key('attention.layer_norm_rms_epsilon'), true),
      rope_theta: g.number(key('rope.freq_base')) ?? 10000,
      rope_scaling,
      // transformers: tied exactly when the file has no separate output matrix.
      tie_word_embeddings: !g.hasTensor('output.weight'),
      attention_bias: qBias,
      mlp_bias: g.hasTensor('blk.0.ffn_gate.bias'),
      bos_token_id: tokenId('bos_token_id'),
      eos_token_id: tokenId('eos_token_id'),
      pad_token_id: tokenId('padding_token_id'),
    });
  } catch (e) {
    // The config's own checks name config.json fields; say they came from this file's metadata.
    if (e instanceof InputError) throw new InputError(`${e.detail} (from the GGUF metadata)`, { file: g.file, field: e.location.field });
    throw e;
  }
}

const LAYER_PARTS: Record<string, string> = {
  attn_norm: 'input_layernorm',
  attn_q: 'self_attn.q_proj',
  attn_k: 'self_attn.k_proj',
  attn_v: 'self_attn.v_proj',
  attn_output: 'self_attn.o_proj',
  ffn_norm: 'post_attention_layernorm',
  ffn_gate: 'mlp.gate_proj',
  ffn_up: 'mlp.up_proj',
  ffn_down: 'mlp.down_proj',
};

/** HF parameter name of a llama.cpp tensor name, or null for names Llama has no parameter for. */
export function hfLlamaName(ggufName: string): string | null {
  if (ggufName === 'token_embd.weight') return 'model.embed_tokens.weight';
  if (ggufName === 'output_norm.weight') return 'model.norm.weight';
  if (ggufName === 'output.weight') return 'lm_head.weight';
  const m = /^blk\.(\d+)\.([a-z_]+)\.(weight|bias)$/.exec(ggufName);
  const part = m && LAYER_PARTS[m[2]];
  return part ? `model.layers.${m![1]}.${part}.${m![3]}` : null;
}

/**
 * Undoes llama.cpp's row permutation of a Q or K projection ([heads·headDim, cols] or a bias): the
 * converter interleaves the two rotary halves of each head (row h·D + 2d + t holds HF row
 * h·D + t·D/2 + d); transformers reshapes to (heads, D/2, 2, cols) and swaps the middle axes.
 */
export function unpermuteQK(w: Float32Array, rows: number, heads: number): Float32Array {
  const cols = w.length / rows;
  const D = rows / heads;
  const half = D / 2;
  if (!Number.isInteger(cols) || !Number.isInteger(half)) throw new Error(`unpermuteQK: ${rows} rows do not split into ${heads} heads of even width`);
  const out = new Float32Array(w.length);
  for (let h = 0; h < heads; h++) {
    for (let d = 0; d < half; d++) {
      for (let t = 0; t < 2; t++) {
        const src = (h * D + 2 * d + t) * cols;
        out.set(w.subarray(src, src + cols), (h * D + t * half + d) * cols);
      }
    }
  }
  return out;
}

/** The file's tensors as (HF name → float32) pairs, dequantised one at a time while being consumed. */
function* llamaTensors(g: GGUFFile, c: LlamaConfig): Generator<[string, StoredTensor]> {
  for (const t of g.tensors) {
    const hf = hfLlamaName(t.name);
    let values = g.readTensor(t);
    if (hf && /\.self_attn\.[qk]_proj\./.test(hf)) {
      values = unpermuteQK(values, t.shape[0], hf.includes('.q_proj.') ? c.num_attention_heads : c.num_key_value_heads);
    }
    yield [t.name, { dtype: 'F32', shape: t.shape, values }];
  }
}

/**
 * Copies the GGUF weights into a Llama model's parameters (one tensor in memory at a time). Missing
 * and unused tensors and shape mismatches are errors naming the file and the GGUF tensor.
 */
export function loadLlamaGgufWeights(params: Parameters, config: LlamaConfig, g: GGUFFile): void {
  const unused: string[] = [];
  params.load(
    { tensors: llamaTensors(g, config) },
    {
      source: g.file,
      rename: (n) => {
        const hf = hfLlamaName(n);
        if (hf === null || !params.has(hf)) unused.push(n);
        return hf;
      },
    },
  );
  if (unused.length) {
    const shown = unused.slice(0, 8).join(', ') + (unused.length > 8 ? `, … (${unused.length} in all)` : '');
    throw new InputError(`tensors not used by a ${config.num_hidden_layers}-layer Llama model: ${shown}`, { file: g.file });
  }
}

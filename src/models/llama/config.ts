// Llama-family (LlamaForCausalLM; also SmolLM, Llama 3.x, Qwen2 with q/k/v biases) hyper-parameters
// with the names of HF's config.json. Both the hub layout (`rope_theta` + `rope_scaling`,
// `torch_dtype`) and transformers 5.x's (`rope_parameters`, `dtype`) are read.
import { InputError } from '../../utils/errors.js';
import { activation } from '../common/layers.js';
import { configJsonText, readJsonObject } from '../../io/json.js';

export interface RopeScaling {
  /** 'default' (none), 'linear' (positions / factor) or 'llama3' (per-frequency interpolation). */
  rope_type: 'default' | 'linear' | 'llama3';
  factor?: number;
  low_freq_factor?: number;
  high_freq_factor?: number;
  original_max_position_embeddings?: number;
}

export interface LlamaConfig {
  model_type: 'llama' | 'qwen2' | 'mistral';
  vocab_size: number;
  hidden_size: number;
  intermediate_size: number;
  num_hidden_layers: number;
  num_attention_heads: number;
  num_key_value_heads: number;
  /** Per-head width; HF defaults it to hidden_size / num_attention_heads. */
  head_dim: number;
  hidden_act: string;
  max_position_embeddings: number;
  rms_norm_eps: number;
  rope_theta: number;
  rope_scaling: RopeScaling | null;
  tie_word_embeddings: boolean;
  /** Llama: bias on q, k, v and o projections. */
  attention_bias: boolean;
  mlp_bias: boolean;
  bos_token_id: number | null;
  eos_token_id: number | number[] | null;
  pad_token_id: number | null;
  initializer_range: number;
}

export const LLAMA_DEFAULTS: LlamaConfig = {
  model_type: 'llama',
  vocab_size: 32000,
  hidden_size: 4096,
  intermediate_size: 11008,
  num_hidden_layers: 32,
  num_attention_heads: 32,
  num_key_value_heads: 32,
  head_dim: 128,
  hidden_act: 'silu',
  max_position_embeddings: 2048,
  rms_norm_eps: 1e-6,
  rope_theta: 10000,
  rope_scaling: null,
  tie_word_embeddings: false,
  attention_bias: false,
  mlp_bias: false,
  bos_token_id: 1,
  eos_token_id: 2,
  pad_token_id: null,
  initializer_range: 0.02,
};

const REQUIRED = ['vocab_size', 'hidden_size', 'intermediate_size', 'num_hidden_layers', 'num_attention_heads'] as const;
const SUPPORTED_TYPES = ['llama', 'qwen2', 'mistral'];

/** Qwen2 puts biases on q/k/v only; Llama's `attention_bias` puts them on q/k/v and o. */
export function qkvBias(c: LlamaConfig): boolean {
  return c.attention_bias || c.model_type === 'qwen2';
}
export function oBias(c: LlamaConfig): boolean {
  return c.attention_bias && c.model_type !== 'qwen2';
}

function positiveInt(c: Record<string, unknown>, k: string, file?: string): void {
  const v = c[k];
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1) throw new InputError(`expected a positive integer, got ${JSON.stringify(v)}`, { file, field: k });
}

export function validateLlamaConfig(c: LlamaConfig, file?: string): LlamaConfig {
  const r = c as unknown as Record<string, unknown>;
  for (const k of ['vocab_size', 'hidden_size', 'intermediate_size', 'num_hidden_layers', 'num_attention_heads', 'num_key_value_heads', 'head_dim', 'max_position_embeddings']) {
    positiveInt(r, k, file);
  }
  for (const k of ['rms_norm_eps', 'rope_theta', 'initializer_range'] as const) {
    if (typeof c[k] !== 'number' || !Number.isFinite(c[k]) || c[k] < 0) throw new InputError(`expected a non-negative number, got ${JSON.stringify(c[k])}`, { file, field: k });
  }
  if (c.num_attention_heads % c.num_key_value_heads !== 0) {
    throw new InputError(`num_attention_heads ${c.num_attention_heads} is not a multiple of num_key_value_heads ${c.num_key_value_heads}`, {
      file,
      field: 'num_key_value_heads',
    });
  }
  if (c.head_dim % 2 !== 0) throw new InputError(`head_dim ${c.head_dim} must be even for rotary embeddings`, { file, field: 'head_dim' });
  for (const k of ['tie_word_embeddings', 'attention_bias', 'mlp_bias'] as const) {
    if (typeof c[k] !== 'boolean') throw new InputError(`expected true or false, got ${JSON.stringify(c[k])}`, { file, field: k });
  }
  if (!SUPPORTED_TYPES.includes(c.model_type)) {
    throw new InputError(`model_type ${JSON.stringify(c.model_type)} is not supported (${SUPPORTED_TYPES.join(', ')})`, { file, field: 'model_type' });
  }
  const s = c.rope_scaling;
  if (s) {
    if (!['default', 'linear', 'llama3'].includes(s.rope_type)) {
      throw new InputError(`rope type ${JSON.stringify(s.rope_type)} is not supported (default, linear, llama3)`, { file, field: 'rope_scaling.rope_type' });
    }
    if (s.rope_type !== 'default' && !(typeof s.factor === 'number' && s.factor > 0)) {
      throw new InputError(`rope scaling needs a positive factor, got ${JSON.stringify(s.factor)}`, { file, field: 'rope_scaling.factor' });
    }
    if (s.rope_type === 'llama3') {
      for (const k of ['low_freq_factor', 'high_freq_factor', 'original_max_position_embeddings'] as const) {
        if (typeof s[k] !== 'number' || !(s[k]! > 0)) throw new InputError(`llama3 rope scaling needs ${k}, got ${JSON.stringify(s[k])}`, { file, field: `rope_scaling.${k}` });
      }
      if (s.high_freq_factor === s.low_freq_factor) {
        throw new InputError('llama3 rope scaling needs high_freq_factor ≠ low_freq_factor', { file, field: 'rope_scaling.high_freq_factor' });
      }
    }
  }
  activation(c.hidden_act, file);
  return c;
}

/** A config given in code; head_dim defaults to hidden_size / num_attention_heads, kv heads to the heads. */
export function llamaConfig(partial: Partial<LlamaConfig> = {}): LlamaConfig {
  const c = { ...LLAMA_DEFAULTS, ...partial };
  if (partial.num_key_value_heads === undefined) c.num_key_value_heads = c.num_attention_heads;
  if (partial.head_dim === undefined) c.head_dim = Math.floor(c.hidden_size / c.num_attention_heads);
  return validateLlamaConfig(c);
}

/** Parses an HF config.json object (hub layout or transformers 5.x layout). */
export function parseLlamaConfig(raw: Record<string, unknown>, file?: string): LlamaConfig {
  for (const k of REQUIRED) if (!(k in raw)) throw new InputError('missing required key', { file, field: k });
  const c: Record<string, unknown> = { ...LLAMA_DEFAULTS };
  for (const k of Object.keys(LLAMA_DEFAULTS)) if (raw[k] !== undefined) c[k] = raw[k];
  if (raw.model_type === undefined) c.model_type = 'llama';
  if (raw.num_key_value_heads === undefined || raw.num_key_value_heads === null) c.num_key_value_heads = raw.num_attention_heads;
  if (raw.head_dim === undefined || raw.head_dim === null) c.head_dim = Math.floor((raw.hidden_size as number) / (raw.num_attention_heads as number));
  // transformers 5.x: rope_parameters = {rope_theta, rope_type, ...scaling keys}.
  const params = raw.rope_parameters as Record<string, unknown> | undefined;
  let scaling = (params ?? raw.rope_scaling ?? null) as Record<string, unknown> | null;
  if (params && typeof params.rope_theta === 'number') c.rope_theta = params.rope_theta;
  if (scaling !== null) {
    if (typeof scaling !== 'object') throw new InputError(`expected an object or null, got ${JSON.stringify(scaling)}`, { file, field: 'rope_scaling' });
    // Old configs say `type` instead of `rope_type`.
    const type = (scaling.rope_type ?? scaling.type ?? 'default') as RopeScaling['rope_type'];
    const { rope_theta: _t, type: _ty, ...rest } = scaling;
    scaling = type === 'default' ? null : { ...rest, rope_type: type };
  }
  c.rope_scaling = scaling;
  if (raw.sliding_window !== undefined && raw.sliding_window !== null && raw.use_sliding_window === true) {
    throw new InputError('sliding-window attention is not supported', { file, field: 'use_sliding_window' });
  }
  if (typeof c.hidden_act !== 'string') throw new InputError(`expected an activation name, got ${JSON.stringify(c.hidden_act)}`, { file, field: 'hidden_act' });
  return validateLlamaConfig(c as unknown as LlamaConfig, file);
}

export function readLlamaConfig(file: string): LlamaConfig {
  return parseLlamaConfig(readJsonObject(file), file);
}

/** LlamaConfig fields (and rope_scaling entries) transformers 5.x validates as floats. */
const LLAMA_FLOAT_KEYS = ['rms_norm_eps', 'rope_theta', 'attention_dropout', 'initializer_range', 'factor', 'low_freq_factor', 'high_freq_factor'];

/** config.json text for a Llama config (float fields keep their `.0`). */
export function llamaConfigText(c: LlamaConfig): string {
  return configJsonText(llamaConfigJson(c), LLAMA_FLOAT_KEYS);
}

/** The hub-layout config.json of LlamaForCausalLM (also read by transformers 5.x). */
export function llamaConfigJson(c: LlamaConfig): Record<string, unknown> {
  const arch = { llama: 'LlamaForCausalLM', qwen2: 'Qwen2ForCausalLM', mistral: 'MistralForCausalLM' }[c.model_type];
  return {
    architectures: [arch],
    ...c,
    attention_dropout: 0.0,
    pretraining_tp: 1,
    torch_dtype: 'float32',
    use_cache: true,
  };
}

/**
 * RoPE inverse frequencies (float32, as HF computes them), after the config's scaling rule.
 * llama3: long wavelengths are divided by `factor`, short ones kept, the band between interpolated.
 */
export function ropeInvFreq(c: LlamaConfig): Float32Array {
  const half = c.head_dim / 2;
  const out = new Float32Array(half);
  const s = c.rope_scaling;
  for (let i = 0; i < half; i++) {
    // HF: 1 / base ** (arange(0, dim, 2).float() / dim), in float32.
    let f = Math.fround(1 / Math.fround(Math.pow(c.rope_theta, Math.fround((2 * i) / c.head_dim))));
    if (s?.rope_type === 'linear') f = f / s.factor!;
    else if (s?.rope_type === 'llama3') {
      const factor = s.factor!;
      const orig = s.original_max_position_embeddings!;
      const lowWavelen = orig / s.low_freq_factor!;
      const highWavelen = orig / s.high_freq_factor!;
      const wavelen = (2 * Math.PI) / f;
      if (wavelen > lowWavelen) f = f / factor;
      else if (wavelen >= highWavelen) {
        const smooth = (orig / wavelen - s.low_freq_factor!) / (s.high_freq_factor! - s.low_freq_factor!);
        f = (1 - smooth) * (f / factor) + smooth * f;
      }
    }
    out[i] = f;
  }
  return out;
}

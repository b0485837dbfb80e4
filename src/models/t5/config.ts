// T5 hyper-parameters with the names of HF's config.json (T5 v1.0, v1.1 / flan-T5).
import { InputError } from '../../utils/errors.js';
import { activation } from '../common/layers.js';
import { configJsonText, readJsonObject } from '../../io/json.js';

export interface T5Config {
  vocab_size: number;
  d_model: number;
  d_kv: number;
  d_ff: number;
  num_layers: number;
  num_decoder_layers: number;
  num_heads: number;
  relative_attention_num_buckets: number;
  relative_attention_max_distance: number;
  dropout_rate: number;
  layer_norm_epsilon: number;
  initializer_factor: number;
  /** 'relu' (v1.0), 'gated-gelu' (v1.1 / flan-T5), or any '[gated-]ACT'. */
  feed_forward_proj: string;
  /** lm_head shares `shared.weight`. */
  tie_word_embeddings: boolean;
  /**
   * Multiply the decoder output by d_model^-0.5 before the LM head. transformers ≤ 4.x derives it from
   * tie_word_embeddings; 5.x writes it separately (and forces tie_word_embeddings true), so both are kept.
   */
  scale_decoder_outputs: boolean;
  pad_token_id: number;
  eos_token_id: number;
  decoder_start_token_id: number;
}

/** Defaults of HF's T5Config (t5-small sizes). */
export const T5_DEFAULTS: T5Config = {
  vocab_size: 32128,
  d_model: 512,
  d_kv: 64,
  d_ff: 2048,
  num_layers: 6,
  num_decoder_layers: 6,
  num_heads: 8,
  relative_attention_num_buckets: 32,
  relative_attention_max_distance: 128,
  dropout_rate: 0.1,
  layer_norm_epsilon: 1e-6,
  initializer_factor: 1.0,
  feed_forward_proj: 'relu',
  tie_word_embeddings: true,
  scale_decoder_outputs: true,
  pad_token_id: 0,
  eos_token_id: 1,
  decoder_start_token_id: 0,
};

/** Keys that fix the weight shapes: a checkpoint's config.json must state them. */
const REQUIRED: Array<keyof T5Config> = ['vocab_size', 'd_model', 'd_kv', 'd_ff', 'num_layers', 'num_heads'];

/** The feed-forward activation and gating of `feed_forward_proj`, as HF's T5Config parses it. */
export function feedForwardKind(proj: string, file?: string): { act: string; gated: boolean } {
  const parts = proj.split('-');
  if (parts.length > 2 || (parts.length === 2 && parts[0] !== 'gated')) {
    throw new InputError(`feed_forward_proj ${JSON.stringify(proj)} is not of the form 'gated-ACT' or 'ACT'`, { file, field: 'feed_forward_proj' });
  }
  // HF maps gated-gelu to the tanh approximation (gelu_new), for backwards compatibility with v1.1.
  const act = proj === 'gated-gelu' ? 'gelu_new' : parts[parts.length - 1];
  try {
    activation(act, file);
  } catch (e) {
    throw new InputError((e as InputError).detail ?? String(e), { file, field: 'feed_forward_proj' });
  }
  return { act, gated: parts.length === 2 };
}

export function validateT5Config(c: T5Config, file?: string): T5Config {
  for (const k of Object.keys(T5_DEFAULTS) as Array<keyof T5Config>) {
    const v = c[k];
    if (k === 'feed_forward_proj') {
      if (typeof v !== 'string') throw new InputError(`expected a string, got ${JSON.stringify(v)}`, { file, field: k });
    } else if (k === 'tie_word_embeddings' || k === 'scale_decoder_outputs') {
      if (typeof v !== 'boolean') throw new InputError(`expected true or false, got ${JSON.stringify(v)}`, { file, field: k });
    } else if (typeof v !== 'number' || !Number.isFinite(v)) {
      throw new InputError(`expected a number, got ${JSON.stringify(v)}`, { file, field: k });
    }
  }
  for (const k of ['vocab_size', 'd_model', 'd_kv', 'd_ff', 'num_layers', 'num_decoder_layers', 'num_heads', 'relative_attention_num_buckets', 'relative_attention_max_distance'] as const) {
    if (!Number.isInteger(c[k]) || c[k] < 1) throw new InputError(`expected a positive integer, got ${c[k]}`, { file, field: k });
  }
  if (c.relative_attention_num_buckets < 4 || c.relative_attention_num_buckets % 2 !== 0) {
    throw new InputError(`expected an even number ≥ 4, got ${c.relative_attention_num_buckets}`, { file, field: 'relative_attention_num_buckets' });
  }
  for (const k of ['pad_token_id', 'eos_token_id', 'decoder_start_token_id'] as const) {
    if (!Number.isInteger(c[k]) || c[k] < 0 || c[k] >= c.vocab_size) {
      throw new InputError(`expected a token id in [0, ${c.vocab_size}), got ${c[k]}`, { file, field: k });
    }
  }
  if (!(c.dropout_rate >= 0 && c.dropout_rate < 1)) throw new InputError(`expected a rate in [0, 1), got ${c.dropout_rate}`, { file, field: 'dropout_rate' });
  feedForwardKind(c.feed_forward_proj, file);
  return c;
}

/** Fills defaults for a config given in code. Leaving out scale_decoder_outputs makes it follow tie_word_embeddings. */
export function t5Config(partial: Partial<T5Config> = {}): T5Config {
  const c = { ...T5_DEFAULTS, ...partial };
  if (partial.num_decoder_layers === undefined) c.num_decoder_layers = c.num_layers;
  if (partial.scale_decoder_outputs === undefined) c.scale_decoder_outputs = c.tie_word_embeddings;
  return validateT5Config(c);
}

/** Parses an HF config.json object (hub layout and transformers 5.x layout). */
export function parseT5Config(raw: Record<string, unknown>, file?: string): T5Config {
  for (const k of REQUIRED) {
    if (!(k in raw)) throw new InputError('missing required key', { file, field: k });
  }
  if (raw.model_type !== undefined && raw.model_type !== 't5') {
    throw new InputError(`model_type ${JSON.stringify(raw.model_type)} is not 't5'`, { file, field: 'model_type' });
  }
  const c: Record<string, unknown> = { ...T5_DEFAULTS };
  for (const k of Object.keys(T5_DEFAULTS)) if (raw[k] !== undefined && raw[k] !== null) c[k] = raw[k];
  if (raw.num_decoder_layers === undefined || raw.num_decoder_layers === null) c.num_decoder_layers = c.num_layers;
  // transformers 5.x keeps the real meaning of tie_word_embeddings in scale_decoder_outputs.
  if (raw.scale_decoder_outputs === undefined) c.scale_decoder_outputs = c.tie_word_embeddings;
  return validateT5Config(c as unknown as T5Config, file);
}

export function readT5Config(file: string): T5Config {
  return parseT5Config(readJsonObject(file), file);
}

/** Config keys transformers 5.x validates as floats: it rejects `1` where it expects `1.0`. */
const FLOAT_KEYS = ['dropout_rate', 'layer_norm_epsilon', 'initializer_factor', 'classifier_dropout'];

/** config.json text; integral values of float fields keep a `.0` (JSON.stringify would drop it). */
export function t5ConfigText(json: Record<string, unknown>): string {
  return configJsonText(json, FLOAT_KEYS);
}

/** The config.json transformers writes for T5ForConditionalGeneration (hub layout, readable by 4.x and 5.x). */
export function t5ConfigJson(c: T5Config, extra: Record<string, unknown> = {}): Record<string, unknown> {
  const { act, gated } = feedForwardKind(c.feed_forward_proj);
  const out: Record<string, unknown> = {
    architectures: ['T5ForConditionalGeneration'],
    model_type: 't5',
    ...c,
    dense_act_fn: act,
    is_gated_act: gated,
    is_encoder_decoder: true,
    torch_dtype: 'float32',
    use_cache: true,
    ...extra,
  };
  // 4.x has no scale_decoder_outputs and scales exactly when tied: only write the key when it differs.
  if (c.scale_decoder_outputs === c.tie_word_embeddings) delete out.scale_decoder_outputs;
  return out;
}

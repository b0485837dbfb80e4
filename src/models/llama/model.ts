// HF `LlamaForCausalLM` on tfjs ops: token embeddings, pre-norm decoder layers (RMSNorm, rotary
// attention with grouped-query heads, SwiGLU MLP), final RMSNorm, LM head (tied or not).
// Parameter names are the checkpoint's (`model.layers.0.self_attn.q_proj.weight`, `lm_head.weight`).
import fs from 'node:fs';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { ensureBackend } from '../../backend/index.js';
import { readSafetensors, writeSafetensors, type SafetensorsFile } from '../../io/safetensors.js';
import { InputError } from '../../utils/errors.js';
import { Parameters } from '../common/parameters.js';
import { activation, linear, rmsNorm, type Activation } from '../common/layers.js';
import { llamaConfig, llamaConfigText, oBias, qkvBias, readLlamaConfig, ropeInvFreq, type LlamaConfig } from './config.js';
import { checkpointFiles } from '../../io/checkpoint.js';
import { resolvePretrained, type HubOptions } from '../../hub/index.js';

export interface LlamaInputs {
  inputIds: tf.Tensor2D;
  /** 1 = real token, 0 = padding, over past + new tokens [batch, past + seq]. Defaults to all 1. */
  attentionMask?: tf.Tensor2D;
  /** Defaults to past..past+seq-1 for every row (HF's default, also for right padding). */
  positionIds?: tf.Tensor2D;
}

export interface LlamaForwardOptions {
  /** Key/value cache: read (past tokens) and extended with this call's tokens. */
  cache?: KVCache;
  /** Also return the embeddings and every layer's output (residual stream before the final norm). */
  outputHiddenStates?: boolean;
}

export interface LlamaOutputs {
  /** After the final RMSNorm: what the LM head consumes. [batch, seq, hidden] */
  lastHiddenState: tf.Tensor3D;
  /** [embeddings, layer 1, …, layer L] when asked for. */
  hiddenStates?: tf.Tensor3D[];
}

/**
 * Keys and values of past tokens per layer ([batch, kv_heads, past, head_dim], after RoPE). The
 * cache owns its tensors; `dispose()` frees them.
 */
export class KVCache {
  keys: Array<tf.Tensor4D | null>;
  values: Array<tf.Tensor4D | null>;
  constructor(layers: number) {
    this.keys = new Array(layers).fill(null);
    this.values = new Array(layers).fill(null);
  }
  get length(): number {
    return this.keys[0]?.shape[2] ?? 0;
  }
  /** Appends a layer's new keys/values (kept outside any tidy) and returns the full ones. */
  append(layer: number, k: tf.Tensor4D, v: tf.Tensor4D): { k: tf.Tensor4D; v: tf.Tensor4D } {
    const pk = this.keys[layer];
    const pv = this.values[layer];
    const nk = pk ? (tf.concat([pk, k], 2) as tf.Tensor4D) : k.clone();
    const nv = pv ? (tf.concat([pv, v], 2) as tf.Tensor4D) : v.clone();
    tf.keep(nk);
    tf.keep(nv);
    pk?.dispose();
    pv?.dispose();
    this.keys[layer] = nk;
    this.values[layer] = nv;
    return { k: nk, v: nv };
  }
  dispose(): void {
    for (const t of [...this.keys, ...this.values]) t?.dispose();
    this.keys.fill(null);
    this.values.fill(null);
  }
}

type Kind = 'dense' | 'embedding' | 'norm' | 'bias';

/** Parameter names and shapes in HF's naming. */
export function llamaParameterShapes(c: LlamaConfig): Array<[string, number[], Kind]> {
  const H = c.hidden_size;
  const qd = c.num_attention_heads * c.head_dim;
  const kvd = c.num_key_value_heads * c.head_dim;
  const I = c.intermediate_size;
  const out: Array<[string, number[], Kind]> = [['model.embed_tokens.weight', [c.vocab_size, H], 'embedding']];
  for (let i = 0; i < c.num_hidden_layers; i++) {
    const p = `model.layers.${i}`;
    out.push([`${p}.self_attn.q_proj.weight`, [qd, H], 'dense'], [`${p}.self_attn.k_proj.weight`, [kvd, H], 'dense'], [`${p}.self_attn.v_proj.weight`, [kvd, H], 'dense']);
    if (qkvBias(c)) out.push([`${p}.self_attn.q_proj.bias`, [qd], 'bias'], [`${p}.self_attn.k_proj.bias`, [kvd], 'bias'], [`${p}.self_attn.v_proj.bias`, [kvd], 'bias']);
    out.push([`${p}.self_attn.o_proj.weight`, [H, qd], 'dense']);
    if (oBias(c)) out.push([`${p}.self_attn.o_proj.bias`, [H], 'bias']);
    out.push([`${p}.mlp.gate_proj.weight`, [I, H], 'dense'], [`${p}.mlp.up_proj.weight`, [I, H], 'dense'], [`${p}.mlp.down_proj.weight`, [H, I], 'dense']);
    if (c.mlp_bias) out.push([`${p}.mlp.gate_proj.bias`, [I], 'bias'], [`${p}.mlp.up_proj.bias`, [I], 'bias'], [`${p}.mlp.down_proj.bias`, [H], 'bias']);
    out.push([`${p}.input_layernorm.weight`, [H], 'norm'], [`${p}.post_attention_layernorm.weight`, [H], 'norm']);
  }
  out.push(['model.norm.weight', [H], 'norm']);
  if (!c.tie_word_embeddings) out.push(['lm_head.weight', [c.vocab_size, H], 'dense']);
  return out;
}

/**
 * Maps checkpoint names onto ours: bare `LlamaModel` checkpoints lack the `model.` prefix; RoPE
 * buffers are ignored; a stored `lm_head.weight` of a tied model is the embedding again.
 */
export function renameLlamaCheckpointKey(c: LlamaConfig): (name: string) => string | null {
  return (name) => {
    if (name.endsWith('rotary_emb.inv_freq')) return null;
    if (name === 'lm_head.weight') return c.tie_word_embeddings ? null : name;
    if (name.startsWith('embed_tokens.') || name.startsWith('layers.') || name === 'norm.weight') return `model.${name}`;
    return name;
  };
}

/** Additive mask [batch, 1, seq, past+seq]: causal (query i sees keys ≤ past+i) and padding. */
function attentionBias(batch: number, seq: number, past: number, mask: tf.Tensor2D | null): tf.Tensor4D {
  return tf.tidy(() => {
    const total = past + seq;
    const q = tf.reshape(tf.range(past, total, 1, 'int32'), [seq, 1]);
    const k = tf.reshape(tf.range(0, total, 1, 'int32'), [1, total]);
    const causal = tf.reshape(tf.cast(tf.lessEqual(k, q), 'float32'), [1, 1, seq, total]);
    const visible = mask ? tf.mul(causal, tf.reshape(tf.cast(mask, 'float32'), [batch, 1, 1, total])) : causal;
    // HF uses the most negative float; any value whose exp() underflows to 0 gives the same softmax.
    return tf.mul(tf.sub(1, visible), -1e9) as tf.Tensor4D;
  });
}

function rotateHalf(x: tf.Tensor4D): tf.Tensor4D {
  const d = x.shape[3];
  const [x1, x2] = tf.split(x, [d / 2, d / 2], 3);
  return tf.concat([tf.neg(x2), x1], 3) as tf.Tensor4D;
}

export class LlamaModel {
  readonly config: LlamaConfig;
  readonly params: Parameters;
  readonly invFreq: Float32Array;
  private readonly act: Activation;

  /**
   * Fresh weights (HF's init: normal(0, initializer_range) matrices and embeddings, unit norms, zero
   * biases). A partial config is completed with `llamaConfig()`.
   */
  constructor(config: Partial<LlamaConfig>, seed = 42) {
    ensureBackend();
    this.config = llamaConfig(config);
    const c = this.config;
    this.params = new Parameters(seed);
    this.act = activation(c.hidden_act);
    this.invFreq = ropeInvFreq(c);
    for (const [name, shape, kind] of llamaParameterShapes(c)) {
      const init = kind === 'bias' ? { kind: 'zeros' as const } : kind === 'norm' ? { kind: 'ones' as const } : { kind: 'normal' as const, std: c.initializer_range };
      this.params.create(name, shape, init);
    }
  }

  /** Loads `config.json` + `model.safetensors` from a local folder or a Hub id (`resolvePretrained`). */
  static async fromPretrained(idOrPath: string, opts: { seed?: number } & HubOptions = {}): Promise<LlamaModel> {
    return LlamaModel.fromDir(await resolvePretrained(idOrPath, { ...opts, files: ['config.json', 'model.safetensors'] }), opts);
  }

  /** Loads `config.json` + `model.safetensors` from an HF model directory. */
  static fromDir(dir: string, opts: { seed?: number } = {}): LlamaModel {
    const { configFile: cfgFile, weightsFile } = checkpointFiles(dir);
    const model = new LlamaModel(readLlamaConfig(cfgFile), opts.seed);
    try {
      model.loadWeights(weightsFile);
    } catch (e) {
      model.dispose();
      throw e;
    }
    return model;
  }

  /** Copies a checkpoint's tensors in; missing or unexpected tensors and shape mismatches are errors. */
  loadWeights(
    file: string,
    extra: { optional?: (name: string) => boolean; ignore?: (name: string) => boolean; contents?: SafetensorsFile } = {},
  ): void {
    const rename = renameLlamaCheckpointKey(this.config);
    // RRA-GPT's ranking layer rides along in the same file (transformers ignores it too).
    const ignore = (n: string) => n.startsWith('rank_head.') || !!extra.ignore?.(n);
    // `contents`: the file already read by the caller (RRA-GPT reads its head from the same file).
    const report = this.params.load(extra.contents ?? readSafetensors(file), {
      source: file,
      rename: (n) => (ignore(n) ? null : rename(n)),
      optional: extra.optional,
    });
    if (report.unexpected.length) {
      const shown = report.unexpected.slice(0, 8).join(', ') + (report.unexpected.length > 8 ? `, … (${report.unexpected.length} in all)` : '');
      throw new InputError(
        `tensors not used by a ${this.config.num_hidden_layers}-layer ${this.config.model_type} model with this config: ${shown} (config/checkpoint mismatch)`,
        { file },
      );
    }
  }

  /** Writes `config.json` + `model.safetensors` (HF layout, loadable by LlamaForCausalLM). */
  save(dir: string, extraTensors: Parameters | null = null): void {
    fs.mkdirSync(dir, { recursive: true });
    const tensors = { ...this.params.toTensors(), ...(extraTensors ? extraTensors.toTensors() : {}) };
    writeSafetensors(path.join(dir, 'model.safetensors'), tensors, { format: 'pt' });
    fs.writeFileSync(path.join(dir, 'config.json'), llamaConfigText(this.config));
  }

  private p(name: string): tf.Variable {
    return this.params.get(name);
  }

  /** cos and sin [batch, 1, seq, head_dim] for the positions (rotate-half layout: angles repeated). */
  rotary(positionIds: tf.Tensor2D): { cos: tf.Tensor4D; sin: tf.Tensor4D } {
    return tf.tidy(() => {
      const [B, S] = positionIds.shape;
      const half = this.invFreq.length;
      const angle = tf.mul(tf.reshape(tf.cast(positionIds, 'float32'), [B, S, 1]), tf.tensor3d(this.invFreq, [1, 1, half]));
      const emb = tf.reshape(tf.concat([angle, angle], 2), [B, 1, S, 2 * half]);
      return { cos: tf.cos(emb) as tf.Tensor4D, sin: tf.sin(emb) as tf.Tensor4D };
    });
  }

  /** One pre-norm decoder layer. */
  layer(i: number, x: tf.Tensor3D, cos: tf.Tensor4D, sin: tf.Tensor4D, bias: tf.Tensor4D, cache?: KVCache): tf.Tensor3D {
    const c = this.config;
    const p = `model.layers.${i}`;
    const [B, S, H] = x.shape;
    const nh = c.num_attention_heads;
    const nkv = c.num_key_value_heads;
    const hd = c.head_dim;
    const opt = (n: string) => (this.params.has(n) ? this.p(n) : undefined);
    return tf.tidy(() => {
      const h = rmsNorm(x, this.p(`${p}.input_layernorm.weight`), c.rms_norm_eps);
      const heads = (t: tf.Tensor, n: number) => tf.transpose(tf.reshape(t, [B, S, n, hd]), [0, 2, 1, 3]) as tf.Tensor4D;
      const rope = (t: tf.Tensor4D) => tf.add(tf.mul(t, cos), tf.mul(rotateHalf(t), sin)) as tf.Tensor4D;
      const q = rope(heads(linear(h, this.p(`${p}.self_attn.q_proj.weight`), opt(`${p}.self_attn.q_proj.bias`)), nh));
      let k = rope(heads(linear(h, this.p(`${p}.self_attn.k_proj.weight`), opt(`${p}.self_attn.k_proj.bias`)), nkv));
      let v = heads(linear(h, this.p(`${p}.self_attn.v_proj.weight`), opt(`${p}.self_attn.v_proj.bias`)), nkv);
      if (cache) ({ k, v } = cache.append(i, k, v));
      const T = k.shape[2];
      // GQA without copying keys/values: query head j = kv·rep + r reads kv head j // rep, so the
      // rep query heads of one kv head are stacked along the sequence axis of a single matMul.
      const rep = nh / nkv;
      const qg = tf.reshape(tf.mul(q, 1 / Math.sqrt(hd)), [B, nkv, rep * S, hd]);
      const scores = tf.add(tf.reshape(tf.matMul(qg, k, false, true), [B, nh, S, T]), bias);
      const probs = tf.reshape(tf.softmax(scores), [B, nkv, rep * S, T]);
      const ctx = tf.reshape(tf.matMul(probs, v), [B, nh, S, hd]);
      const merged = tf.reshape(tf.transpose(ctx, [0, 2, 1, 3]), [B, S, nh * hd]);
      const a = tf.add(x, linear(merged, this.p(`${p}.self_attn.o_proj.weight`), opt(`${p}.self_attn.o_proj.bias`)));
      const h2 = rmsNorm(a, this.p(`${p}.post_attention_layernorm.weight`), c.rms_norm_eps);
      const gate = this.act(linear(h2, this.p(`${p}.mlp.gate_proj.weight`), opt(`${p}.mlp.gate_proj.bias`)));
      const up = linear(h2, this.p(`${p}.mlp.up_proj.weight`), opt(`${p}.mlp.up_proj.bias`));
      return tf.add(a, linear(tf.mul(gate, up), this.p(`${p}.mlp.down_proj.weight`), opt(`${p}.mlp.down_proj.bias`))) as tf.Tensor3D;
    });
  }

  forward(inputs: LlamaInputs, opts: LlamaForwardOptions = {}): LlamaOutputs {
    const c = this.config;
    const cache = opts.cache;
    return tf.tidy(() => {
      const [B, S] = inputs.inputIds.shape;
      const past = cache?.length ?? 0;
      if (inputs.attentionMask && inputs.attentionMask.shape[1] !== past + S) {
        throw new Error(`attentionMask covers ${inputs.attentionMask.shape[1]} tokens, expected past ${past} + new ${S}`);
      }
      const positionIds = inputs.positionIds ?? (tf.tile(tf.reshape(tf.range(past, past + S, 1, 'int32'), [1, S]), [B, 1]) as tf.Tensor2D);
      const { cos, sin } = this.rotary(positionIds);
      const bias = attentionBias(B, S, past, inputs.attentionMask ?? null);
      let x = tf.gather(this.p('model.embed_tokens.weight'), inputs.inputIds) as tf.Tensor3D;
      const hiddenStates: tf.Tensor3D[] = [x];
      for (let i = 0; i < c.num_hidden_layers; i++) {
        x = this.layer(i, x, cos, sin, bias, cache);
        hiddenStates.push(x);
      }
      const last = rmsNorm(x, this.p('model.norm.weight'), c.rms_norm_eps) as tf.Tensor3D;
      const out: LlamaOutputs = { lastHiddenState: last };
      if (opts.outputHiddenStates) out.hiddenStates = hiddenStates;
      return out as unknown as tf.TensorContainerObject;
    }) as unknown as LlamaOutputs;
  }

  /** The LM head's weight: lm_head, or the embeddings when tied. */
  lmHeadWeight(): tf.Variable {
    return this.config.tie_word_embeddings ? this.p('model.embed_tokens.weight') : this.p('lm_head.weight');
  }

  /** Vocabulary logits for hidden states of any leading shape. */
  logits(hidden: tf.Tensor): tf.Tensor {
    return tf.tidy(() => linear(hidden, this.lmHeadWeight()));
  }

  dispose(): void {
    this.params.dispose();
  }
}

/** Left-padding positions: max(cumsum(mask) − 1, 0), as HF's generate() uses. */
export function positionsFromMask(mask: tf.Tensor2D): tf.Tensor2D {
  return tf.tidy(() => tf.maximum(tf.sub(tf.cumsum(tf.cast(mask, 'int32'), 1), 1), 0) as tf.Tensor2D);
}

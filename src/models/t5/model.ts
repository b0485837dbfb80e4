// HF `T5ForConditionalGeneration`: shared embeddings, pre-norm encoder and decoder stacks with RMS
// norm and bucketed relative position bias (owned by block 0 of each stack, reused by the others), no
// attention scaling, no biases; ReLU (v1.0) or gated-GELU (v1.1 / flan-T5) feed-forward; LM head tied
// to `shared` with the d_model^-0.5 rescale, or untied. Parameter names are the checkpoint's.
import fs from 'node:fs';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { readSafetensors, writeSafetensors, type SafetensorsFile, type StoredTensor, type TensorToWrite } from '../../io/safetensors.js';
import { InputError } from '../../utils/errors.js';
import { activation, additiveMask, dropout, linear, rmsNorm, SeedStream, type Activation } from '../common/layers.js';
import { Parameters, type LoadReport } from '../common/parameters.js';
import { feedForwardKind, parseT5Config, t5Config, t5ConfigJson, t5ConfigText, type T5Config } from './config.js';
import { checkpointFiles } from '../../io/checkpoint.js';
import { readJsonObject } from '../../io/json.js';
import { resolvePretrained, type HubOptions } from '../../hub/index.js';

/** Self-attention keys/values of one decoder layer, [batch, heads, positions, d_kv]. */
export interface KV {
  k: tf.Tensor4D;
  v: tf.Tensor4D;
}

/** What the decoder needs from the encoder: its output, padding mask, and (optionally) precomputed cross-attention K/V. */
export interface EncoderContext {
  hidden: tf.Tensor3D;
  /** 0/1 [batch, encLen]. */
  mask: tf.Tensor2D;
  /** Per decoder layer; computed on the fly when absent. */
  crossKV?: KV[];
}

export interface T5ForwardOptions {
  training?: boolean;
}

const NEG = -1e9;

/**
 * T5's relative position bucket of `r = key − query` (HF `_relative_position_bucket`): exact buckets
 * for small distances, logarithmic ones up to `maxDistance`; bidirectional stacks split the buckets by sign.
 */
export function relativePositionBucket(r: number, bidirectional: boolean, numBuckets: number, maxDistance: number): number {
  let nb = numBuckets;
  let ret = 0;
  let n: number;
  if (bidirectional) {
    nb = Math.floor(nb / 2);
    if (r > 0) ret = nb;
    n = Math.abs(r);
  } else {
    n = Math.max(-r, 0);
  }
  const maxExact = Math.floor(nb / 2);
  if (n < maxExact) return ret + n;
  // Float32 log as in torch; the README of the fixtures checked float32/float64 agree for |r| ≤ 300.
  const large = maxExact + Math.trunc(Math.fround(Math.fround(Math.log(n / maxExact)) / Math.fround(Math.log(maxDistance / maxExact))) * (nb - maxExact));
  return ret + Math.min(nb - 1, large);
}

export class T5Model {
  readonly params: Parameters;
  readonly seeds: SeedStream;
  readonly config: T5Config;
  private readonly act: Activation;
  private readonly gated: boolean;
  private readonly inner: number;

  constructor(config: Partial<T5Config> | T5Config, seed = 42) {
    this.config = t5Config(config);
    const c = this.config;
    const ff = feedForwardKind(c.feed_forward_proj);
    this.act = activation(ff.act);
    this.gated = ff.gated;
    this.inner = c.num_heads * c.d_kv;
    this.params = new Parameters(seed);
    this.seeds = new SeedStream(seed ^ 0x7505);
    for (const [name, shape, std] of this.parameterShapes()) {
      this.params.create(name, shape, std === 0 ? { kind: 'ones' } : { kind: 'normal', std });
    }
  }

  /** Names, shapes and HF's init std (0 = RMS norm weight, initialised to 1). */
  parameterShapes(): Array<[string, number[], number]> {
    const c = this.config;
    const f = c.initializer_factor;
    const D = c.d_model;
    const I = this.inner;
    const out: Array<[string, number[], number]> = [['shared.weight', [c.vocab_size, D], f]];
    if (!c.tie_word_embeddings) out.push(['lm_head.weight', [c.vocab_size, D], f]);
    const attn = (p: string, bias: boolean) => {
      out.push(
        [`${p}.q.weight`, [I, D], f * (D * c.d_kv) ** -0.5],
        [`${p}.k.weight`, [I, D], f * D ** -0.5],
        [`${p}.v.weight`, [I, D], f * D ** -0.5],
        [`${p}.o.weight`, [D, I], f * I ** -0.5],
      );
      if (bias) out.push([`${p}.relative_attention_bias.weight`, [c.relative_attention_num_buckets, c.num_heads], f * D ** -0.5]);
    };
    const ffn = (p: string) => {
      if (this.gated) out.push([`${p}.wi_0.weight`, [c.d_ff, D], f * D ** -0.5], [`${p}.wi_1.weight`, [c.d_ff, D], f * D ** -0.5]);
      else out.push([`${p}.wi.weight`, [c.d_ff, D], f * D ** -0.5]);
      out.push([`${p}.wo.weight`, [D, c.d_ff], f * c.d_ff ** -0.5]);
    };
    for (let i = 0; i < c.num_layers; i++) {
      const p = `encoder.block.${i}.layer`;
      attn(`${p}.0.SelfAttention`, i === 0);
      out.push([`${p}.0.layer_norm.weight`, [D], 0]);
      ffn(`${p}.1.DenseReluDense`);
      out.push([`${p}.1.layer_norm.weight`, [D], 0]);
    }
    out.push(['encoder.final_layer_norm.weight', [D], 0]);
    for (let i = 0; i < c.num_decoder_layers; i++) {
      const p = `decoder.block.${i}.layer`;
      attn(`${p}.0.SelfAttention`, i === 0);
      out.push([`${p}.0.layer_norm.weight`, [D], 0]);
      attn(`${p}.1.EncDecAttention`, false);
      out.push([`${p}.1.layer_norm.weight`, [D], 0]);
      ffn(`${p}.2.DenseReluDense`);
      out.push([`${p}.2.layer_norm.weight`, [D], 0]);
    }
    out.push(['decoder.final_layer_norm.weight', [D], 0]);
    return out;
  }

  p(name: string): tf.Variable {
    return this.params.get(name);
  }

  /** The LM head matrix [vocab, d_model]: `shared` when tied. */
  headWeight(): tf.Variable {
    return this.config.tie_word_embeddings ? this.p('shared.weight') : this.p('lm_head.weight');
  }

  private norm(x: tf.Tensor, name: string): tf.Tensor {
    return rmsNorm(x, this.p(name), this.config.layer_norm_epsilon);
  }

  private drop(x: tf.Tensor, training: boolean): tf.Tensor {
    return dropout(x, this.config.dropout_rate, training, training ? this.seeds.next() : undefined);
  }

  /** [B, L, inner] → [B, heads, L, d_kv]. */
  private heads(t: tf.Tensor): tf.Tensor4D {
    const [B, L] = t.shape;
    return tf.transpose(tf.reshape(t, [B, L, this.config.num_heads, this.config.d_kv]), [0, 2, 1, 3]);
  }

  /** Keys and values of `x` for the attention module `p`. */
  kv(p: string, x: tf.Tensor3D): KV {
    return tf.tidy(() => ({ k: this.heads(linear(x, this.p(`${p}.k.weight`))), v: this.heads(linear(x, this.p(`${p}.v.weight`))) }));
  }

  /** softmax(Q·Kᵀ + bias)·V then `o`; T5 does not scale by 1/√d_kv (it is folded into the init). */
  private attend(p: string, h: tf.Tensor3D, kv: KV, bias: tf.Tensor, training: boolean): tf.Tensor3D {
    return tf.tidy(() => {
      const [B, L] = h.shape;
      const q = this.heads(linear(h, this.p(`${p}.q.weight`)));
      const probs = this.drop(tf.softmax(tf.add(tf.matMul(q, kv.k, false, true), bias)), training);
      const ctx = tf.reshape(tf.transpose(tf.matMul(probs as tf.Tensor4D, kv.v), [0, 2, 1, 3]), [B, L, this.inner]);
      return linear(ctx, this.p(`${p}.o.weight`)) as tf.Tensor3D;
    });
  }

  private feedForward(p: string, h: tf.Tensor, training: boolean): tf.Tensor {
    return tf.tidy(() => {
      const hidden = this.gated
        ? tf.mul(this.act(linear(h, this.p(`${p}.wi_0.weight`))), linear(h, this.p(`${p}.wi_1.weight`)))
        : this.act(linear(h, this.p(`${p}.wi.weight`)));
      return linear(this.drop(hidden, training), this.p(`${p}.wo.weight`));
    });
  }

  /**
   * Relative position bias [1, heads, qLen, kLen] of a stack for queries at positions
   * qStart…qStart+qLen−1 and keys 0…kLen−1 (the decoder adds its causal mask here).
   */
  positionBias(stack: 'encoder' | 'decoder', qStart: number, qLen: number, kLen: number): tf.Tensor4D {
    const c = this.config;
    const bidirectional = stack === 'encoder';
    // The bucket depends only on r = j − (qStart + i): one lookup per distinct r, not per cell.
    const rMin = -(qStart + qLen - 1);
    const bucketOf = Int32Array.from({ length: kLen - 1 - qStart - rMin + 1 }, (_, k) =>
      relativePositionBucket(rMin + k, bidirectional, c.relative_attention_num_buckets, c.relative_attention_max_distance),
    );
    const idx = new Int32Array(qLen * kLen);
    const causal = new Float32Array(qLen * kLen);
    for (let i = 0; i < qLen; i++) {
      for (let j = 0; j < kLen; j++) {
        const r = j - (qStart + i);
        idx[i * kLen + j] = bucketOf[r - rMin];
        if (!bidirectional && r > 0) causal[i * kLen + j] = NEG;
      }
    }
    return tf.tidy(() => {
      const table = this.p(`${stack}.block.0.layer.0.SelfAttention.relative_attention_bias.weight`);
      const vals = tf.gather(table, tf.tensor1d(idx, 'int32')); // [q·k, heads]
      let bias: tf.Tensor = tf.transpose(tf.reshape(vals, [qLen, kLen, c.num_heads]), [2, 0, 1]);
      if (!bidirectional) bias = tf.add(bias, tf.tensor3d(causal, [1, qLen, kLen]));
      return tf.expandDims(bias, 0) as tf.Tensor4D;
    });
  }

  /** Encoder output after its final norm; with `outputHiddenStates`, [embeddings, block 0, …, final] as HF. */
  encode(
    inputIds: tf.Tensor2D,
    attentionMask?: tf.Tensor2D,
    opts: T5ForwardOptions & { outputHiddenStates?: boolean } = {},
  ): { lastHiddenState: tf.Tensor3D; hiddenStates?: tf.Tensor3D[] } {
    const training = opts.training ?? false;
    return tf.tidy(() => {
      const [B, S] = inputIds.shape;
      const mask = attentionMask ?? tf.ones([B, S], 'int32');
      const bias = tf.add(this.positionBias('encoder', 0, S, S), additiveMask(mask as tf.Tensor2D, NEG));
      const emb = tf.gather(this.p('shared.weight'), inputIds) as tf.Tensor3D;
      const states: tf.Tensor3D[] = [emb];
      let x = this.drop(emb, training) as tf.Tensor3D;
      for (let i = 0; i < this.config.num_layers; i++) {
        const p = `encoder.block.${i}.layer`;
        const h = this.norm(x, `${p}.0.layer_norm.weight`) as tf.Tensor3D;
        x = tf.add(x, this.drop(this.attend(`${p}.0.SelfAttention`, h, this.kv(`${p}.0.SelfAttention`, h), bias, training), training));
        x = tf.add(x, this.drop(this.feedForward(`${p}.1.DenseReluDense`, this.norm(x, `${p}.1.layer_norm.weight`), training), training));
        if (i < this.config.num_layers - 1) states.push(x);
      }
      const last = this.drop(this.norm(x, 'encoder.final_layer_norm.weight'), training) as tf.Tensor3D;
      states.push(last);
      return (opts.outputHiddenStates ? { lastHiddenState: last, hiddenStates: states } : { lastHiddenState: last }) as unknown as tf.TensorContainerObject;
    }) as unknown as { lastHiddenState: tf.Tensor3D; hiddenStates?: tf.Tensor3D[] };
  }

  /** Cross-attention keys/values of every decoder layer for an encoder output (computed once per generation). */
  crossKV(encoderHidden: tf.Tensor3D): KV[] {
    const out: KV[] = [];
    for (let i = 0; i < this.config.num_decoder_layers; i++) out.push(this.kv(`decoder.block.${i}.layer.1.EncDecAttention`, encoderHidden));
    return out;
  }

  /**
   * Decoder final-norm output [batch, decLen, d_model] for `decoderInputIds` (positions after the
   * `past` cache, if any). `present` is the updated self-attention cache (the caller disposes both).
   */
  decode(
    decoderInputIds: tf.Tensor2D,
    enc: EncoderContext,
    opts: T5ForwardOptions & { past?: KV[]; useCache?: boolean } = {},
  ): { hidden: tf.Tensor3D; present?: KV[] } {
    const training = opts.training ?? false;
    return tf.tidy(() => {
      const T = decoderInputIds.shape[1];
      const pastLen = opts.past ? opts.past[0].k.shape[2] : 0;
      const selfBias = this.positionBias('decoder', pastLen, T, pastLen + T);
      const crossMask = additiveMask(enc.mask, NEG);
      let x = this.drop(tf.gather(this.p('shared.weight'), decoderInputIds), training) as tf.Tensor3D;
      const present: KV[] = [];
      for (let i = 0; i < this.config.num_decoder_layers; i++) {
        const p = `decoder.block.${i}.layer`;
        const h = this.norm(x, `${p}.0.layer_norm.weight`) as tf.Tensor3D;
        let kv = this.kv(`${p}.0.SelfAttention`, h);
        if (opts.past) kv = { k: tf.concat([opts.past[i].k, kv.k], 2), v: tf.concat([opts.past[i].v, kv.v], 2) };
        if (opts.useCache || opts.past) present.push(kv);
        x = tf.add(x, this.drop(this.attend(`${p}.0.SelfAttention`, h, kv, selfBias, training), training));
        const h2 = this.norm(x, `${p}.1.layer_norm.weight`) as tf.Tensor3D;
        const ckv = enc.crossKV ? enc.crossKV[i] : this.kv(`${p}.1.EncDecAttention`, enc.hidden);
        x = tf.add(x, this.drop(this.attend(`${p}.1.EncDecAttention`, h2, ckv, crossMask, training), training));
        x = tf.add(x, this.drop(this.feedForward(`${p}.2.DenseReluDense`, this.norm(x, `${p}.2.layer_norm.weight`), training), training));
      }
      const hidden = this.drop(this.norm(x, 'decoder.final_layer_norm.weight'), training) as tf.Tensor3D;
      return (present.length ? { hidden, present } : { hidden }) as unknown as tf.TensorContainerObject;
    }) as unknown as { hidden: tf.Tensor3D; present?: KV[] };
  }

  /** The decoder output as the LM head sees it (× d_model^-0.5 when scale_decoder_outputs). */
  private headInput(hidden: tf.Tensor): tf.Tensor2D {
    const D = this.config.d_model;
    const h = tf.reshape(hidden, [-1, D]);
    return (this.config.scale_decoder_outputs ? tf.mul(h, D ** -0.5) : h) as tf.Tensor2D;
  }

  /** Logits over the vocabulary, [..., vocab]. */
  lmLogits(hidden: tf.Tensor3D): tf.Tensor3D {
    return tf.tidy(() => {
      const [B, T] = hidden.shape;
      return tf.reshape(tf.matMul(this.headInput(hidden), this.headWeight(), false, true), [B, T, this.config.vocab_size]) as tf.Tensor3D;
    });
  }

  /** Logits at chosen vocabulary ids only, [rows, ids.length], for hidden [rows, d_model] (or [rows, 1, d_model]). */
  logitsAt(hidden: tf.Tensor, ids: number[]): tf.Tensor2D {
    return tf.tidy(() => {
      const rows = tf.gather(this.headWeight(), tf.tensor1d(ids, 'int32'));
      return tf.matMul(this.headInput(hidden), rows, false, true) as tf.Tensor2D;
    });
  }

  /** Encoder + decoder + LM head in one call (teacher forcing). */
  forward(
    inputs: { inputIds: tf.Tensor2D; attentionMask?: tf.Tensor2D; decoderInputIds: tf.Tensor2D },
    opts: T5ForwardOptions = {},
  ): { logits: tf.Tensor3D; encoderLastHiddenState: tf.Tensor3D; decoderLastHiddenState: tf.Tensor3D } {
    return tf.tidy(() => {
      const mask = inputs.attentionMask ?? (tf.onesLike(inputs.inputIds) as tf.Tensor2D);
      const enc = this.encode(inputs.inputIds, mask, opts).lastHiddenState;
      const dec = this.decode(inputs.decoderInputIds, { hidden: enc, mask }, opts).hidden;
      return { logits: this.lmLogits(dec), encoderLastHiddenState: enc, decoderLastHiddenState: dec };
    });
  }

  /** Loads a T5 checkpoint from a local folder or a Hub id (`resolvePretrained`); `loadT5` reads a local folder. */
  static async fromPretrained(idOrPath: string, opts: { seed?: number } & HubOptions = {}): Promise<T5Model> {
    return loadT5(await resolvePretrained(idOrPath, { ...opts, files: ['config.json', 'model.safetensors'] }), opts).model;
  }

  /** Writes `config.json` + `model.safetensors` as transformers' save_pretrained does (tied tensors once). */
  save(dir: string, extraConfig: Record<string, unknown> = {}, extraTensors: Record<string, TensorToWrite> = {}): void {
    fs.mkdirSync(dir, { recursive: true });
    writeSafetensors(path.join(dir, 'model.safetensors'), { ...this.params.toTensors(), ...extraTensors }, { format: 'pt' });
    fs.writeFileSync(path.join(dir, 'config.json'), t5ConfigText(t5ConfigJson(this.config, extraConfig)));
  }

  dispose(): void {
    this.params.dispose();
  }
}

const EMBED_ALIASES = ['encoder.embed_tokens.weight', 'decoder.embed_tokens.weight'];

function sameValues(a: StoredTensor, b: StoredTensor): boolean {
  if (a.values.length !== b.values.length) return false;
  for (let i = 0; i < a.values.length; i++) if (a.values[i] !== b.values[i]) return false;
  return true;
}

/**
 * Loads an HF T5 checkpoint directory (`config.json` + `model.safetensors`). Tied tensors may be stored
 * under any alias; `lm_head.weight` that differs from `shared.weight` is kept untied whatever the config
 * says (transformers 5.x re-saves v1.1 configs with tie_word_embeddings true). Tensors the T5 model does
 * not own are returned in `extra` for the caller (a ranking head); unknown encoder/decoder tensors are errors.
 */
export function loadT5(dir: string, opts: { seed?: number } = {}): { model: T5Model; report: LoadReport; extra: Map<string, StoredTensor>; rawConfig: Record<string, unknown> } {
  const { configFile: cfgFile, weightsFile } = checkpointFiles(dir);
  const rawConfig = readJsonObject(cfgFile);
  const config = parseT5Config(rawConfig, cfgFile);
  const file = readSafetensors(weightsFile);
  const tensors = new Map(file.tensors);
  if (!tensors.has('shared.weight')) {
    const alias = [...EMBED_ALIASES, ...(config.tie_word_embeddings ? ['lm_head.weight'] : [])].find((n) => tensors.has(n));
    if (!alias) throw new InputError('no embedding matrix: none of shared.weight, encoder.embed_tokens.weight, decoder.embed_tokens.weight', { file: weightsFile });
    tensors.set('shared.weight', tensors.get(alias)!);
  }
  for (const a of EMBED_ALIASES) tensors.delete(a);
  // Old transformers saved a cross-attention bias table that current versions ignore (it is never used).
  tensors.delete('decoder.block.0.layer.1.EncDecAttention.relative_attention_bias.weight');
  const head = tensors.get('lm_head.weight');
  let tie = config.tie_word_embeddings;
  if (head && !sameValues(head, tensors.get('shared.weight')!)) tie = false;
  else if (head) tensors.delete('lm_head.weight');
  if (!tie && !head) {
    throw new InputError('config says tie_word_embeddings false but the checkpoint has no lm_head.weight (config/checkpoint mismatch)', { file: weightsFile, field: 'lm_head.weight' });
  }
  const model = new T5Model({ ...config, tie_word_embeddings: tie }, opts.seed);
  const extra = new Map<string, StoredTensor>();
  for (const [n, t] of tensors) {
    if (model.params.has(n)) continue;
    if (/^(encoder|decoder)\./.test(n)) {
      model.dispose();
      throw new InputError(
        `tensor '${n}' does not belong to a T5 with ${config.num_layers} encoder / ${config.num_decoder_layers} decoder layers and feed_forward_proj '${config.feed_forward_proj}' (config/checkpoint mismatch)`,
        { file: weightsFile },
      );
    }
    extra.set(n, t);
    tensors.delete(n);
  }
  let report: LoadReport;
  try {
    report = model.params.load({ tensors, metadata: file.metadata } as SafetensorsFile, { source: weightsFile });
  } catch (e) {
    model.dispose();
    throw e;
  }
  return { model, report, extra, rawConfig };
}

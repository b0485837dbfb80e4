// sentence-transformers' Pooling module: token states [batch, seq, hidden] + attention mask → one
// vector per text. Modes and their arithmetic follow `sentence_transformers` Pooling._forward_padded;
// several modes concatenate in the order given. Right padding is assumed (our tokenizer pads right).
import * as tf from '@tensorflow/tfjs-core';
import { InputError } from '../../utils/errors.js';

export type PoolingMode = 'cls' | 'max' | 'mean' | 'mean_sqrt_len_tokens' | 'weightedmean' | 'lasttoken';

export const POOLING_MODES: readonly PoolingMode[] = ['cls', 'max', 'mean', 'mean_sqrt_len_tokens', 'weightedmean', 'lasttoken'];

/** The legacy boolean keys of `1_Pooling/config.json`, in the order sentence-transformers concatenates them. */
export const LEGACY_POOLING_KEYS: ReadonlyArray<[string, PoolingMode]> = [
  ['pooling_mode_cls_token', 'cls'],
  ['pooling_mode_max_tokens', 'max'],
  ['pooling_mode_mean_tokens', 'mean'],
  ['pooling_mode_mean_sqrt_len_tokens', 'mean_sqrt_len_tokens'],
  ['pooling_mode_weightedmean_tokens', 'weightedmean'],
  ['pooling_mode_lasttoken', 'lasttoken'],
];

export function checkPoolingModes(modes: readonly string[], file?: string, field = 'pooling_mode'): PoolingMode[] {
  if (!modes.length) throw new InputError('no pooling mode', { file, field });
  for (const m of modes) {
    if (!POOLING_MODES.includes(m as PoolingMode)) {
      throw new InputError(`unknown pooling mode ${JSON.stringify(m)} (supported: ${POOLING_MODES.join(', ')})`, { file, field });
    }
  }
  if (new Set(modes).size !== modes.length) throw new InputError(`pooling mode repeated in [${modes.join(', ')}]`, { file, field });
  return modes as PoolingMode[];
}

/**
 * Parses a Pooling config: the current form (`pooling_mode`: a name or a list) or the legacy boolean
 * keys (no key set means mean, as sentence-transformers reads it). Returns the modes in output order.
 */
export function parsePoolingConfig(raw: Record<string, unknown>, file?: string): { modes: PoolingMode[]; dimension?: number } {
  const dim = raw.embedding_dimension ?? raw.word_embedding_dimension;
  if (dim !== undefined && !(typeof dim === 'number' && Number.isInteger(dim) && dim > 0)) {
    throw new InputError(`expected a positive integer, got ${JSON.stringify(dim)}`, { file, field: raw.embedding_dimension !== undefined ? 'embedding_dimension' : 'word_embedding_dimension' });
  }
  const dimension = dim as number | undefined;
  if (raw.pooling_mode !== undefined) {
    const pm = raw.pooling_mode;
    const list = typeof pm === 'string' ? [pm] : Array.isArray(pm) && pm.every((x) => typeof x === 'string') ? (pm as string[]) : null;
    if (!list) throw new InputError(`expected a mode name or a list of them, got ${JSON.stringify(pm)}`, { file, field: 'pooling_mode' });
    return { modes: checkPoolingModes(list, file), dimension };
  }
  const modes: PoolingMode[] = [];
  for (const [key, mode] of LEGACY_POOLING_KEYS) {
    const v = raw[key];
    if (v === undefined) continue;
    if (typeof v !== 'boolean') throw new InputError(`expected true or false, got ${JSON.stringify(v)}`, { file, field: key });
    if (v) modes.push(mode);
  }
  return { modes: modes.length ? modes : ['mean'], dimension };
}

/** The Pooling config we write: legacy keys when they express the modes in order (every version reads them). */
export function poolingConfigJson(modes: readonly PoolingMode[], dimension: number): Record<string, unknown> {
  const legacyOrder = LEGACY_POOLING_KEYS.map(([, m]) => m).filter((m) => modes.includes(m));
  if (legacyOrder.every((m, i) => m === modes[i])) {
    const out: Record<string, unknown> = { word_embedding_dimension: dimension };
    for (const [key, mode] of LEGACY_POOLING_KEYS) out[key] = modes.includes(mode);
    out.include_prompt = true;
    return out;
  }
  return { embedding_dimension: dimension, pooling_mode: [...modes], include_prompt: true };
}

/** Pools token states [B, S, H] under a 0/1 mask [B, S] (int or float); output [B, H · modes]. Differentiable. */
export function pool(tokens: tf.Tensor3D, attentionMask: tf.Tensor2D, modes: readonly PoolingMode[]): tf.Tensor2D {
  return tf.tidy(() => {
    const [B, S, H] = tokens.shape;
    const mask2 = tf.cast(attentionMask, 'float32') as tf.Tensor2D;
    const mask = tf.expandDims(mask2, 2); // [B, S, 1]
    const count = tf.maximum(tf.sum(mask2, 1, true), 1e-9); // [B, 1], as torch.clamp(min=1e-9)
    let sum: tf.Tensor2D | null = null;
    const masked = () => (sum ??= tf.sum(tf.mul(tokens, mask), 1) as tf.Tensor2D);
    const out = modes.map((mode): tf.Tensor2D => {
      switch (mode) {
        case 'cls':
          return tf.reshape(tf.slice(tokens, [0, 0, 0], [B, 1, H]), [B, H]);
        case 'max': {
          const filled = tf.where(tf.cast(tf.broadcastTo(mask, [B, S, H]), 'bool'), tokens, tf.fill([B, S, H], -Infinity));
          return tf.max(filled, 1) as tf.Tensor2D;
        }
        case 'mean':
          return tf.div(masked(), count);
        case 'mean_sqrt_len_tokens':
          return tf.div(masked(), tf.sqrt(count));
        case 'weightedmean': {
          const w = tf.mul(mask, tf.reshape(tf.range(1, S + 1, 1, 'float32'), [1, S, 1]));
          return tf.div(tf.sum(tf.mul(tokens, w), 1), tf.maximum(tf.sum(w, 1), 1e-9)) as tf.Tensor2D;
        }
        case 'lasttoken': {
          // The last real token of each row (right padding: position length − 1; an all-padding row takes the last position).
          const len = tf.sum(mask2, 1);
          const last = tf.where(tf.greater(len, 0), tf.sub(len, 1), tf.fill([B], S - 1));
          const pick = tf.expandDims(tf.oneHot(tf.cast(last, 'int32'), S), 2); // [B, S, 1]
          return tf.sum(tf.mul(tf.mul(tokens, mask), pick), 1) as tf.Tensor2D;
        }
      }
    });
    return (out.length === 1 ? out[0] : tf.concat(out, 1)) as tf.Tensor2D;
  });
}

/** Rows divided by their L2 norm (clamped at 1e-12, as torch.nn.functional.normalize). Differentiable. */
export function l2Normalize(x: tf.Tensor2D): tf.Tensor2D {
  return tf.tidy(() => tf.div(x, tf.maximum(tf.sqrt(tf.sum(tf.square(x), 1, true)), 1e-12)) as tf.Tensor2D);
}

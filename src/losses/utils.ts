// Shared masking, sorting, gain and reduction helpers for the losses. All helpers are pure tfjs ops,
// called inside the caller's tidy / gradient scope.
//
// Padding rule used everywhere: padded scores and labels are replaced by finite constants (sanitize)
// before any arithmetic, and padded terms are removed with tf.where, never by multiplying by the mask.
// So a padded score may be anything (even NaN) without reaching the value or the gradient.
import * as tf from '@tensorflow/tfjs-core';
import { InputError } from '../utils/errors.js';

/** A very negative logit for padding: exp() underflows to 0 without producing -Inf or NaN. */
export const PAD_LOGIT = -1e30;

/** 1 for real items, 0 for padding (mask > 0 is real). */
export function validMask(mask: tf.Tensor2D): tf.Tensor2D {
  return tf.cast(tf.greater(mask, 0), 'float32') as tf.Tensor2D;
}

/** x at real items, `fill` (default 0) at padding; no gradient reaches padded entries. */
export function sanitize(x: tf.Tensor2D, mask: tf.Tensor2D, fill = 0): tf.Tensor2D {
  return tf.where(tf.greater(mask, 0), x, tf.fill(x.shape, fill)) as tf.Tensor2D;
}

/** Scores with padding replaced by PAD_LOGIT (no gradient reaches padded scores). */
export function maskedLogits(scores: tf.Tensor2D, mask: tf.Tensor2D): tf.Tensor2D {
  return sanitize(scores, mask, PAD_LOGIT);
}

/** Labels with padding set to 0. */
export function maskedLabels(labels: tf.Tensor2D, mask: tf.Tensor2D): tf.Tensor2D {
  return sanitize(labels, mask, 0);
}

/** Pairwise differences x[:, i] - x[:, j] as [lists, n, n]. */
export function pairDiff(x: tf.Tensor2D): tf.Tensor3D {
  return tf.sub(tf.expandDims(x, 2), tf.expandDims(x, 1)) as tf.Tensor3D;
}

/** 1 where both items of pair (i, j) are real: [lists, n, n]. */
export function validPairs(mask: tf.Tensor2D): tf.Tensor3D {
  const v = validMask(mask);
  return tf.mul(tf.expandDims(v, 2), tf.expandDims(v, 1)) as tf.Tensor3D;
}

/** 1 where label_i > label_j and both items are real, else 0: [lists, n, n]. */
export function preferredPairs(labels: tf.Tensor2D, mask: tf.Tensor2D): tf.Tensor3D {
  const y = maskedLabels(labels, mask);
  return tf.mul(tf.cast(tf.greater(pairDiff(y), 0), 'float32'), validPairs(mask)) as tf.Tensor3D;
}

/** a / b where b > 0, else 0 (safe for gradients: the denominator is never 0). */
export function safeDiv(a: tf.Tensor, b: tf.Tensor): tf.Tensor {
  const pos = tf.greater(b, 0);
  return tf.where(pos, tf.div(a, tf.where(pos, b, tf.onesLike(b))), tf.zerosLike(a));
}

/**
 * fn(inputs) with no gradient, cut off from the tape. tfjs has no stop_gradient, and its tape
 * rejects ops without a gradient (comparisons) anywhere on a path from the differentiated input to
 * the loss, even where the gradient would be 0. fn runs inside a custom op whose only recorded input
 * is a fresh constant, so neither the inputs nor anything computed from the result lead back to them.
 */
export function noGrad<T extends tf.Tensor>(fn: (...xs: tf.Tensor[]) => T, inputs: tf.Tensor[]): T {
  const anchor = tf.scalar(0);
  const f = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => ({
    value: fn(...inputs),
    gradFunc: () => tf.zerosLike(args[0] as tf.Tensor),
  }));
  return f(anchor) as T;
}

/** The identity on values, with no gradient. */
export function stopGradient<T extends tf.Tensor>(x: T): T {
  return noGrad((y) => tf.clone(y) as T, [x]);
}

/** A sort key: a [lists, n] tensor (no gradient is taken through it) and its direction. */
export interface SortKey {
  x: tf.Tensor2D;
  descending: boolean;
}

/**
 * 0-based position of every item when each list is sorted by `keys` lexicographically, real items
 * first, remaining ties by input index. Returned as float [lists, n]; no gradient.
 */
export function sortPositions(keys: SortKey[], mask: tf.Tensor2D): tf.Tensor2D {
  return noGrad(
    (...xs) =>
      positionsOf(
        keys.map((k, i) => ({ x: xs[i] as tf.Tensor2D, descending: k.descending })),
        xs[keys.length] as tf.Tensor2D,
      ),
    [...keys.map((k) => k.x), mask],
  );
}

/** The permutation matrix that sorts by `keys` (see sortPositions); no gradient. */
export function sortPermutation(keys: SortKey[], mask: tf.Tensor2D): tf.Tensor3D {
  return noGrad(
    (...xs) =>
      permutationMatrix(
        positionsOf(
          keys.map((k, i) => ({ x: xs[i] as tf.Tensor2D, descending: k.descending })),
          xs[keys.length] as tf.Tensor2D,
        ),
      ),
    [...keys.map((k) => k.x), mask],
  );
}

function positionsOf(keys: SortKey[], mask: tf.Tensor2D): tf.Tensor2D {
  const n = mask.shape[1];
  // before[b, i, j] = 1 when item j is placed before item i.
  const idx = tf.range(0, n, 1, 'float32');
  let acc: tf.Tensor = tf.cast(tf.less(tf.expandDims(idx, 0), tf.expandDims(idx, 1)), 'float32'); // j < i
  for (let k = keys.length - 1; k >= 0; k--) {
    const x = sanitize(keys[k].x, mask);
    const xi = tf.expandDims(x, 2);
    const xj = tf.expandDims(x, 1);
    const gt = tf.cast(keys[k].descending ? tf.greater(xj, xi) : tf.less(xj, xi), 'float32');
    const eq = tf.cast(tf.equal(xj, xi), 'float32');
    acc = tf.add(gt, tf.mul(eq, acc));
  }
  const v = validMask(mask);
  const vi = tf.expandDims(v, 2);
  const vj = tf.expandDims(v, 1);
  const sameValidity = tf.cast(tf.equal(vi, vj), 'float32');
  const before = tf.add(tf.mul(vj, tf.sub(1, vi)), tf.mul(sameValidity, acc));
  return tf.sum(before, 2) as tf.Tensor2D;
}

/** Permutation matrix P[b, r, i] = 1 when item i sits at position r: sorted = P·x. */
export function permutationMatrix(positions: tf.Tensor2D): tf.Tensor3D {
  const n = positions.shape[1];
  const r = tf.reshape(tf.range(0, n, 1, 'float32'), [1, n, 1]);
  return tf.cast(tf.equal(tf.expandDims(positions, 1), r), 'float32') as tf.Tensor3D;
}

/** x reordered by permutation matrix P ([lists, n, n] · [lists, n] → [lists, n]); differentiable in x. */
export function applyPermutation(p: tf.Tensor3D, x: tf.Tensor2D): tf.Tensor2D {
  return tf.squeeze(tf.matMul(p, tf.expandDims(x, 2)), [2]) as tf.Tensor2D;
}

/** Number of real items per list. */
export function listLengths(mask: tf.Tensor2D): tf.Tensor1D {
  return tf.sum(validMask(mask), 1) as tf.Tensor1D;
}

export type GainFunction = 'exp2' | 'linear';

/**
 * Gains rescaled per list so large labels cannot overflow: exp2 → 2^(y−ymax) − 2^(−ymax)
 * = (2^y − 1)/2^ymax (TF-Ranking's trick), linear → y. NDCG ratios are unchanged by the common
 * factor. Negative labels get gain 0, padding 0.
 */
export function scaledGains(labels: tf.Tensor2D, mask: tf.Tensor2D, gain: GainFunction): tf.Tensor2D {
  const y = tf.relu(maskedLabels(labels, mask));
  if (gain === 'linear') return y as tf.Tensor2D;
  const ymax = tf.max(y, 1, true);
  const g = tf.sub(tf.pow(2, tf.sub(y, ymax)), tf.pow(2, tf.neg(ymax)));
  return sanitize(g as tf.Tensor2D, mask, 0);
}

/** Discounts 1/log2(r + 2) for 0-based positions r, 0 from position k on (k = cutoff). */
export function positionDiscounts(n: number, k?: number): tf.Tensor1D {
  const d = Array.from({ length: n }, (_, r) => (k !== undefined && r >= k ? 0 : 1 / Math.log2(r + 2)));
  return tf.tensor1d(d);
}

/** Ideal DCG@k per list from (already scaled) gains: gains sorted descending times discounts. */
export function idealDcg(gains: tf.Tensor2D, mask: tf.Tensor2D, k?: number): tf.Tensor1D {
  const n = gains.shape[1];
  const sorted = applyPermutation(sortPermutation([{ x: gains, descending: true }], mask), stopGradient(gains));
  return tf.sum(tf.mul(sorted, positionDiscounts(n, k)), 1) as tf.Tensor1D;
}

/** 1 for lists with at least one real item, else 0. */
export function nonEmptyLists(mask: tf.Tensor2D): tf.Tensor1D {
  return tf.cast(tf.greater(listLengths(mask), 0), 'float32') as tf.Tensor1D;
}

/** What an option may be: a JS type, or a list of allowed values. */
export type OptionSpec = 'number' | 'positive' | 'nonnegative' | 'integer' | 'count' | 'boolean' | 'function' | 'object' | readonly (string | number | boolean)[];

/**
 * Checks loss options (they often come from config files): unknown keys and bad values throw an
 * InputError naming the field `lossOptions.<key>`.
 */
export function checkOptions(loss: string, opts: object | undefined, spec: Record<string, OptionSpec | { anyOf: OptionSpec[] }>): void {
  if (opts === undefined || opts === null) return;
  if (typeof opts !== 'object') throw new InputError(`options of loss '${loss}' must be an object`, { field: 'lossOptions' });
  for (const [key, value] of Object.entries(opts)) {
    if (value === undefined) continue;
    const field = `lossOptions.${key}`;
    const s = spec[key];
    if (!s) throw new InputError(`unknown option for loss '${loss}'; known: ${Object.keys(spec).sort().join(', ')}`, { field });
    const alternatives: OptionSpec[] = typeof s === 'object' && 'anyOf' in s ? s.anyOf : [s];
    const ok = alternatives.some((a) => optionMatches(a, value));
    if (!ok) throw new InputError(`invalid value ${JSON.stringify(value)} for loss '${loss}' (expected ${alternatives.map(describeSpec).join(' or ')})`, { field });
  }
}

function optionMatches(a: OptionSpec, v: unknown): boolean {
  if (Array.isArray(a)) return a.includes(v as string);
  switch (a) {
    case 'number':
      return typeof v === 'number' && Number.isFinite(v);
    case 'positive':
      return typeof v === 'number' && Number.isFinite(v) && v > 0;
    case 'nonnegative':
      return typeof v === 'number' && Number.isFinite(v) && v >= 0;
    case 'integer':
      return typeof v === 'number' && Number.isInteger(v) && v > 0;
    case 'count':
      return typeof v === 'number' && Number.isInteger(v) && v >= 0;
    case 'boolean':
      return typeof v === 'boolean';
    case 'function':
      return typeof v === 'function';
    case 'object':
      return typeof v === 'object' && v !== null;
  }
  return false;
}

function describeSpec(a: OptionSpec): string {
  if (Array.isArray(a)) return `one of ${a.map((x) => JSON.stringify(x)).join(', ')}`;
  return a === 'integer' ? 'a positive integer' : a === 'count' ? 'an integer ≥ 0' : a === 'positive' ? 'a positive number' : a === 'nonnegative' ? 'a number ≥ 0' : `a ${a}`;
}

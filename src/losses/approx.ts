// Differentiable NDCG surrogates: ApproxNDCG (smooth ranks) and NeuralNDCG (NeuralSort + Sinkhorn).
import * as tf from '@tensorflow/tfjs-core';
import type { LossResult, RankingLoss } from './types.js';
import {
  checkOptions,
  idealDcg,
  LIST_REDUCTIONS,
  listLengths,
  nonEmptyLists,
  PAD_LOGIT,
  pairDiff,
  positionDiscounts,
  reduceLists,
  safeDiv,
  sanitize,
  scaledGains,
  validMask,
  validPairs,
  type GainFunction,
  type ListReduction,
} from './utils.js';

export interface ApproxNDCGOptions {
  /**
   * Sharpness α of the smooth rank π_i = 1 + Σ_{j≠i} sigmoid(α (s_j − s_i)). Default 1 (allRank's
   * default; TF-Ranking's default temperature 0.1 is α = 10).
   */
  alpha?: number;
  /** Divides α (TF-Ranking's parameterisation, α_eff = α / T). Default 1. */
  temperature?: number;
  /** 'exp2' (default) 2^y − 1, or 'linear' y. */
  gain?: GainFunction;
  /**
   * Default 'mean' over non-empty lists, lists without a relevant item counting as 0 (allRank; the
   * same as TF-Ranking's Keras reduction, which weighs such lists 0 and divides by the batch size).
   */
  reduction?: ListReduction;
}

/**
 * ApproxNDCG (Qin et al. 2010; Bruch et al. 2019): loss = −Σ_i G_i / log2(1 + π_i) with
 * G = gain / maxDCG over the whole list, so per list in [−1, 0]. Unlike allRank, sigmoid terms are
 * not clamped at 1e-10.
 */
export function approxNDCG(opts: ApproxNDCGOptions = {}): RankingLoss {
  checkOptions('approx_ndcg', opts, { alpha: 'positive', temperature: 'positive', gain: ['exp2', 'linear'], reduction: LIST_REDUCTIONS });
  const alpha = (opts.alpha ?? 1) / (opts.temperature ?? 1);
  return (scores, labels, mask): LossResult =>
    tf.tidy(() => {
      const s = sanitize(scores, mask);
      const pairs = tf.sub(validPairs(mask), tf.expandDims(tf.eye(s.shape[1]), 0)); // j ≠ i, both real
      // pairDiff(s)[i, j] = s_i − s_j; sigmoid(−α(s_i − s_j)) = sigmoid(α(s_j − s_i)).
      const pi = tf.add(1, tf.sum(tf.mul(tf.sigmoid(tf.mul(pairDiff(s), -alpha)), tf.relu(pairs)), 2));
      const gains = scaledGains(labels, mask, opts.gain ?? 'exp2');
      const g = safeDiv(gains, tf.expandDims(idealDcg(gains, mask), 1));
      const ndcg = tf.sum(tf.div(g, tf.div(tf.log(tf.add(1, pi)), Math.LN2)), 1);
      const perList = tf.neg(ndcg) as tf.Tensor1D;
      return { loss: reduceLists(perList, nonEmptyLists(mask), mask, opts.reduction ?? 'mean'), perList };
    });
}

export interface NeuralNDCGOptions {
  /** NeuralSort temperature τ. Default 1. */
  temperature?: number;
  /** NDCG cutoff: only the first k (soft) positions count. Default: the whole list. */
  k?: number;
  /** 'exp2' (default; allRank powered_relevancies=True) or 'linear'. */
  gain?: GainFunction;
  /**
   * Most Sinkhorn iterations. Default 50 (allRank). 0 skips Sinkhorn: plain NeuralSort, as
   * TF-Ranking's NeuralSortNDCGLoss (PiRank).
   */
  sinkhornIterations?: number;
  /** Sinkhorn stops once every real row and column sums to 1 within this. Default 1e-6 (allRank). */
  sinkhornTolerance?: number;
  /** Default 'sum_by_nonzero_weights': mean over lists with a relevant item (allRank excludes the others). */
  reduction?: ListReduction;
}

/**
 * NeuralNDCG (Pobrotyn & Białobrzeski 2021; allRank neuralNDCG, deterministic variant):
 * −Σ_{r<k} (P̂ g)_r / log2(r + 2) ÷ IDCG@k with P̂ the NeuralSort relaxation of the sorting
 * permutation, made doubly stochastic by Sinkhorn scaling. Lists with IDCG = 0 weigh 0.
 * The Sinkhorn stopping test reads one number per iteration from the backend.
 */
export function neuralNDCG(opts: NeuralNDCGOptions = {}): RankingLoss {
  checkOptions('neural_ndcg', opts, {
    temperature: 'positive',
    k: 'integer',
    gain: ['exp2', 'linear'],
    sinkhornIterations: 'count',
    sinkhornTolerance: 'nonnegative',
    reduction: LIST_REDUCTIONS,
  });
  const tau = opts.temperature ?? 1;
  const maxIter = opts.sinkhornIterations ?? 50;
  const tol = opts.sinkhornTolerance ?? 1e-6;
  return (scores, labels, mask): LossResult =>
    tf.tidy(() => {
      const n = scores.shape[1];
      const k = opts.k ?? n;
      const p = sinkhorn(neuralSort(scores, mask, tau), mask, maxIter, tol);
      const gains = scaledGains(labels, mask, opts.gain ?? 'exp2');
      const sortedGains = tf.squeeze(tf.matMul(p, tf.expandDims(gains, 2)), [2]);
      const dcg = tf.sum(tf.mul(sortedGains, positionDiscounts(n, k)), 1);
      const idcg = idealDcg(gains, mask, k);
      const perList = tf.neg(safeDiv(dcg, idcg)) as tf.Tensor1D;
      const w = tf.cast(tf.greater(idcg, 0), 'float32') as tf.Tensor1D;
      return { loss: reduceLists(perList, w, mask, opts.reduction ?? 'sum_by_nonzero_weights'), perList };
    });
}

/**
 * NeuralSort (Grover et al. 2019): P̂[r, i] = softmax_i(((m − 1 − 2r) s_i − Σ_j |s_i − s_j|) / τ) for
 * 0-based rows r < m, m = real items; padded rows and columns are 0.
 */
export function neuralSort(scores: tf.Tensor2D, mask: tf.Tensor2D, tau: number): tf.Tensor3D {
  const [b, n] = scores.shape;
  const s = sanitize(scores, mask);
  const v = validMask(mask);
  const a = tf.sum(tf.mul(tf.abs(pairDiff(s)), tf.expandDims(v, 1)), 2); // Σ_j |s_i − s_j| over real j
  const m = listLengths(mask);
  const r = tf.range(0, n, 1, 'float32');
  const c = tf.sub(tf.sub(tf.expandDims(m, 1), 1), tf.mul(2, tf.expandDims(r, 0))); // [b, r]
  const logits = tf.div(tf.sub(tf.mul(tf.expandDims(c, 2), tf.expandDims(s, 1)), tf.expandDims(a, 1)), tau);
  const rowReal = tf.less(tf.expandDims(r, 0), tf.expandDims(m, 1)); // [b, r]
  const real = tf.logicalAnd(tf.expandDims(rowReal, 2), tf.greater(tf.expandDims(v, 1), 0));
  const soft = tf.softmax(tf.where(real, logits, tf.fill([b, n, n], PAD_LOGIT)));
  return tf.where(real, soft, tf.zerosLike(soft)) as tf.Tensor3D;
}

/**
 * Sinkhorn scaling as allRank: columns then rows normalised (sums clamped at 1e-10) until every
 * real row and column sums to 1 within tol, at most maxIter times.
 */
export function sinkhorn(p: tf.Tensor3D, mask: tf.Tensor2D, maxIter: number, tol: number): tf.Tensor3D {
  const n = mask.shape[1];
  const m = listLengths(mask);
  const realPos = tf.cast(tf.less(tf.expandDims(tf.range(0, n, 1, 'float32'), 0), tf.expandDims(m, 1)), 'float32'); // rows
  const realItem = validMask(mask); // columns
  // Padded rows and columns are re-zeroed after every step: their sums are clamped at 1e-10, and
  // without the mask the gradient into them would grow by 1e10 per iteration to Inf (then NaN).
  const cells = tf.mul(tf.expandDims(realPos, 2), tf.expandDims(realItem, 1));
  for (let it = 0; it < maxIter; it++) {
    p = tf.mul(tf.div(p, tf.maximum(tf.sum(p, 1, true), 1e-10)), cells);
    p = tf.mul(tf.div(p, tf.maximum(tf.sum(p, 2, true), 1e-10)), cells);
    if (tol > 0) {
      // The convergence check's tensors are freed at once (they are off the gradient path).
      const q = p;
      const dev = tf.tidy(() => {
        const rowDev = tf.max(tf.mul(tf.abs(tf.sub(tf.sum(q, 2), 1)), realPos));
        const colDev = tf.max(tf.mul(tf.abs(tf.sub(tf.sum(q, 1), 1)), realItem));
        return tf.maximum(rowDev, colDev).dataSync()[0];
      });
      if (dev < tol) break;
    }
  }
  return p;
}

// Differentiable NDCG surrogates: ApproxNDCG (smooth ranks) and NeuralNDCG (NeuralSort + Sinkhorn),
// and TF-Ranking's public helpers approxRanks / ndcg. Unreduced form: one value per list.
import * as tf from '@tensorflow/tfjs-core';
import type { RankingLoss } from './types.js';
import { inverseMaxDcg } from './lambda-weights.js';
import { gumbelSettings, withGumbel, type GumbelOptions, type ListReduction } from './listwise.js';
import { defineLoss, LIST_ALIASES, listWeights, reductionSpec, resolveReduction } from './reduction.js';
import {
  checkOptions,
  idealDcg,
  listLengths,
  nonEmptyLists,
  PAD_LOGIT,
  pairDiff,
  positionDiscounts,
  safeDiv,
  sanitize,
  scaledGains,
  validMask,
  validPairs,
  type GainFunction,
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
   * allRank's clamp of every sigmoid term at this (allRank: 1e-10). Default 0: no clamp.
   */
  sigmoidClamp?: number;
  /** Gumbel-sampled scores (TF-Ranking GumbelApproxNDCGLoss; registered as gumbel_approx_ndcg). */
  gumbel?: GumbelOptions;
  /**
   * Default 'SUM_OVER_BATCH_SIZE' (alias 'mean') over non-empty lists, lists without a relevant item
   * counting as 0 (allRank; TF-Ranking's Keras reduction, which weighs such lists 0 and divides by
   * the batch size). List weights are 0 for lists without a relevant item (TF-Ranking), so
   * SUM_BY_NONZERO_WEIGHTS averages over lists with one.
   */
  reduction?: ListReduction;
}

/**
 * ApproxNDCG (Qin et al. 2010; Bruch et al. 2019): loss = −Σ_i G_i / log2(1 + π_i) with
 * G = gain / maxDCG over the whole list, so per list in [−1, 0]. Unlike allRank, sigmoid terms are
 * not clamped at 1e-10.
 */
export function approxNDCG(opts: ApproxNDCGOptions = {}, name = 'approx_ndcg'): RankingLoss {
  checkOptions(name, opts, {
    alpha: 'positive',
    temperature: 'positive',
    gain: ['exp2', 'linear'],
    sigmoidClamp: 'nonnegative',
    gumbel: 'object',
    reduction: reductionSpec(LIST_ALIASES),
  });
  const alpha = (opts.alpha ?? 1) / (opts.temperature ?? 1);
  const clamp = opts.sigmoidClamp ?? 0;
  const body = (scores: tf.Tensor2D, labels: tf.Tensor2D, mask: tf.Tensor2D, weights?: tf.Tensor1D | tf.Tensor2D) => {
    let sig = tf.sigmoid(tf.mul(pairDiff(sanitize(scores, mask)), -alpha));
    if (clamp > 0) sig = tf.maximum(sig, clamp);
    const pi = tf.add(1, tf.sum(tf.where(otherRealPairs(mask), sig, tf.zerosLike(sig)), 2));
    const gains = scaledGains(labels, mask, opts.gain ?? 'exp2');
    const g = safeDiv(gains, tf.expandDims(idealDcg(gains, mask), 1));
    const values = tf.neg(tf.sum(tf.div(g, tf.div(tf.log(tf.add(1, pi)), Math.LN2)), 1));
    const relevant = tf.cast(tf.greater(tf.sum(gains, 1), 0), 'float32');
    return { values, weights: tf.mul(relevant, listWeights(weights, mask, labels)), present: nonEmptyLists(mask) };
  };
  const g = gumbelSettings(opts.gumbel, name);
  return defineLoss({
    reduction: resolveReduction(opts.reduction, 'SUM_OVER_BATCH_SIZE', LIST_ALIASES),
    unreduced: g ? withGumbel(body, g) : body,
  });
}

/** TF-Ranking's GumbelApproxNDCGLoss defaults: temperature 0.1 (α = 10), 8 samples, Gumbel temperature 1. */
export function gumbelApproxNDCG(opts: ApproxNDCGOptions = {}): RankingLoss {
  return approxNDCG({ temperature: opts.alpha === undefined && opts.temperature === undefined ? 0.1 : opts.temperature, ...opts, gumbel: opts.gumbel ?? {} }, 'gumbel_approx_ndcg');
}

/** Pairs (i, j) of two different real items: [lists, n, n]. */
function otherRealPairs(mask: tf.Tensor2D): tf.Tensor {
  return tf.logicalAnd(tf.greater(validPairs(mask), 0), tf.logicalNot(tf.cast(tf.expandDims(tf.eye(mask.shape[1]), 0), 'bool')));
}

/**
 * Smooth ranks (Qin et al. 2010; TF-Ranking approx_ranks): π_i = 1 + Σ_{j≠i} sigmoid(α (s_j − s_i))
 * over the real items of the list; 0 at padding.
 */
export function approxRanks(scores: tf.Tensor2D, mask: tf.Tensor2D, alpha = 1): tf.Tensor2D {
  return tf.tidy(() => {
    const sig = tf.sigmoid(tf.mul(pairDiff(sanitize(scores, mask)), -alpha));
    const pi = tf.add(1, tf.sum(tf.where(otherRealPairs(mask), sig, tf.zerosLike(sig)), 2)) as tf.Tensor2D;
    return sanitize(pi, mask);
  });
}

/**
 * NDCG per list (TF-Ranking ndcg): gains 2^y − 1 (rescaled per list so large labels cannot
 * overflow), discounts 1/log2(1 + rank) with `ranks` (1-based, e.g. approxRanks) or, with
 * `permMat` [lists, n, n] (row r = soft position r, e.g. neuralSort), the gains it moves to each
 * position; neither: the items are taken in input order. Divided by the ideal DCG (0 where that is 0).
 */
export function ndcg(labels: tf.Tensor2D, mask: tf.Tensor2D, opts: { ranks?: tf.Tensor2D; permMat?: tf.Tensor3D } = {}): tf.Tensor1D {
  if (opts.ranks && opts.permMat) throw new Error('ndcg takes ranks or permMat, not both');
  return tf.tidy(() => {
    const n = labels.shape[1];
    const g = scaledGains(labels, mask, 'exp2');
    let dcg: tf.Tensor;
    if (opts.permMat) {
      dcg = tf.sum(tf.mul(tf.squeeze(tf.matMul(opts.permMat, tf.expandDims(g, 2)), [2]), positionDiscounts(n)), 1);
    } else {
      const r = opts.ranks ?? tf.tile(tf.expandDims(tf.range(1, n + 1, 1, 'float32'), 0), [labels.shape[0], 1]);
      const d = tf.div(Math.LN2, tf.log1p(tf.where(tf.greater(mask, 0), r, tf.onesLike(r))));
      dcg = tf.sum(tf.mul(g, d), 1);
    }
    return tf.mul(dcg, tf.squeeze(inverseMaxDcg(g, mask, { gainFn: 'identity', rankDiscountFn: 'log2_inverse' }), [1])) as tf.Tensor1D;
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
  /** Default 'SUM_BY_NONZERO_WEIGHTS': mean over lists with a relevant item (allRank excludes the others). */
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
    reduction: reductionSpec(LIST_ALIASES),
  });
  const tau = opts.temperature ?? 1;
  const maxIter = opts.sinkhornIterations ?? 50;
  const tol = opts.sinkhornTolerance ?? 1e-6;
  return defineLoss({
    reduction: resolveReduction(opts.reduction, 'SUM_BY_NONZERO_WEIGHTS', LIST_ALIASES),
    unreduced: (scores, labels, mask, weights) => {
      const n = scores.shape[1];
      const k = opts.k ?? n;
      const p = sinkhorn(neuralSort(scores, mask, tau), mask, maxIter, tol);
      const gains = scaledGains(labels, mask, opts.gain ?? 'exp2');
      const sortedGains = tf.squeeze(tf.matMul(p, tf.expandDims(gains, 2)), [2]);
      const dcg = tf.sum(tf.mul(sortedGains, positionDiscounts(n, k)), 1);
      const idcg = idealDcg(gains, mask, k);
      const values = tf.neg(safeDiv(dcg, idcg));
      const w = tf.mul(tf.cast(tf.greater(idcg, 0), 'float32'), listWeights(weights, mask, labels));
      return { values, weights: w, present: nonEmptyLists(mask) };
    },
  });
}

/**
 * NeuralSort (Grover et al. 2019): P̂[r, i] = softmax_i(((m − 1 − 2r) s_i − Σ_j |s_i − s_j|) / τ) for
 * 0-based rows r < m, m = real items; padded columns are 0. Padded rows (r ≥ m): 'zero' (default)
 * all 0; 'uniform' spread evenly over the padded columns, as TF-Ranking's neural_sort does (its
 * matrix stays a permutation-like matrix over the whole padded list).
 */
export function neuralSort(scores: tf.Tensor2D, mask: tf.Tensor2D, tau: number, paddedRows: 'zero' | 'uniform' = 'zero'): tf.Tensor3D {
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
  if (paddedRows === 'zero') return tf.where(real, soft, tf.zerosLike(soft)) as tf.Tensor3D;
  const padCells = tf.logicalAnd(tf.expandDims(tf.logicalNot(rowReal), 2), tf.expandDims(tf.equal(v, 0), 1));
  const share = tf.reshape(safeDiv(tf.onesLike(m), tf.sub(n, m)), [b, 1, 1]);
  return tf.where(real, soft, tf.where(padCells, tf.mul(share, tf.onesLike(soft)), tf.zerosLike(soft))) as tf.Tensor3D;
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

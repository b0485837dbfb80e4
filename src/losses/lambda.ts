// LambdaLoss (Wang et al. 2018): pairwise logistic loss with NDCG-derived pair weights, computed in
// the order of the current predictions. Follows allRank's lambdaLoss.
import * as tf from '@tensorflow/tfjs-core';
import { InputError } from '../utils/errors.js';
import type { LossResult, RankingLoss } from './types.js';
import {
  applyPermutation,
  checkOptions,
  idealDcg,
  listLengths,
  maskedLabels,
  pairDiff,
  safeDiv,
  sanitize,
  scaledGains,
  noGrad,
  sortPermutation,
  stopGradient,
  type GainFunction,
} from './utils.js';

/**
 * Pair weighting scheme (allRank names in brackets):
 * - 'ranknet' (None): 1 — plain RankNet in predicted order;
 * - 'ndcg_loss1' (ndcgLoss1_scheme): G_i / D_i, over all pairs of real items (not only label_i > label_j);
 * - 'ndcg_loss2' (ndcgLoss2_scheme): |1/D_{|i−j|} − 1/D_{|i−j|+1}| · |G_i − G_j|;
 * - 'lambdarank' (lambdaRank_scheme): |1/D_i − 1/D_j| · |G_i − G_j|;
 * - 'ndcg_loss2pp' (ndcgLoss2PP_scheme): μ · ndcg_loss2 + lambdarank.
 * G = gain / maxDCG@k, D_r = log2(1 + r) for 1-based predicted positions r.
 */
export type LambdaScheme = 'ranknet' | 'ndcg_loss1' | 'ndcg_loss2' | 'lambdarank' | 'ndcg_loss2pp';

export interface LambdaLossOptions {
  /** Default 'ndcg_loss2pp' (sentence-transformers' default; allRank's default is 'ranknet'). */
  scheme?: LambdaScheme;
  /** Only pairs with both items in the predicted top k (and maxDCG@k). Default: the whole list. */
  k?: number;
  /** σ in log(1 + exp(−σ (s_i − s_j))). Default 1. */
  sigma?: number;
  /** μ of NDCG-Loss2++. Default 10. */
  mu?: number;
  /** 'exp2' (default) 2^y − 1, or 'linear' y. */
  gain?: GainFunction;
  /** Logarithm base: 2 (default; allRank reduction_log="binary") or Math.E ("natural"). */
  logBase?: number;
  /**
   * 'mean' (default; sentence-transformers, RankGPT, TWOLAR, rank_llm): mean over all kept pairs of
   * the batch; 'sum' (allRank's default): sum over them; 'lists': mean over lists of the per-list mean.
   */
  reduction?: 'mean' | 'sum' | 'lists';
}

/**
 * LambdaLoss: −Σ w_ij log_b σ(σ(s_i − s_j)) over pairs with label_i > label_j in the predicted order.
 * Items with equal predicted scores are ordered worse label first (then by index), so the loss does
 * not depend on input order. Unlike allRank it does not clamp σ(·) at 1e-10 (which zeroes the
 * gradient of badly misordered pairs); the log-sigmoid is computed exactly as −softplus.
 */
export function lambdaLoss(opts: LambdaLossOptions = {}): RankingLoss {
  checkOptions('lambdaloss', opts, {
    scheme: ['ranknet', 'ndcg_loss1', 'ndcg_loss2', 'lambdarank', 'ndcg_loss2pp'],
    k: 'integer',
    sigma: 'positive',
    mu: 'nonnegative',
    gain: ['exp2', 'linear'],
    logBase: 'positive',
    reduction: ['mean', 'sum', 'lists'],
  });
  const scheme = opts.scheme ?? 'ndcg_loss2pp';
  const sigma = opts.sigma ?? 1;
  const mu = opts.mu ?? 10;
  const lnBase = Math.log(opts.logBase ?? 2);
  if (!(lnBase > 0)) throw new InputError(`logBase of loss 'lambdaloss' must be > 1`, { field: 'lossOptions.logBase' });
  const reduction = opts.reduction ?? 'mean';
  return (scores, labels, mask): LossResult =>
    tf.tidy(() => {
      const n = scores.shape[1];
      const k = opts.k ?? n;
      const s = sanitize(scores, mask);
      const y = maskedLabels(labels, mask);
      const p = sortPermutation(
        [
          { x: s, descending: true },
          { x: y, descending: false },
        ],
        mask,
      );
      const sortedS = applyPermutation(p, s);
      const sortedY = applyPermutation(p, y);
      const gains = scaledGains(labels, mask, opts.gain ?? 'exp2');
      const maxDcg = idealDcg(gains, mask, k);
      const g = stopGradient(safeDiv(applyPermutation(p, gains), tf.expandDims(maxDcg, 1)) as tf.Tensor2D);
      const len = listLengths(mask);
      const pos = tf.range(0, n, 1, 'float32');
      // Real items sit at positions < len after sorting; pairs also need both positions < k.
      const kept = tf.cast(tf.logicalAnd(tf.less(tf.expandDims(pos, 0), tf.expandDims(len, 1)), tf.less(tf.expandDims(pos, 0), k)), 'float32');
      let pairs: tf.Tensor = tf.mul(tf.expandDims(kept, 2), tf.expandDims(kept, 1));
      if (scheme !== 'ndcg_loss1') pairs = tf.mul(pairs, noGrad((d) => tf.cast(tf.greater(d, 0), 'float32'), [pairDiff(sortedY)]));
      const w = tf.mul(schemeWeights(scheme, g, n, mu), pairs);
      const pairLoss = tf.div(tf.softplus(tf.mul(pairDiff(sortedS), -sigma)), lnBase);
      const perListSum = tf.sum(tf.mul(pairLoss, w), [1, 2]) as tf.Tensor1D;
      const perListPairs = tf.sum(pairs, [1, 2]) as tf.Tensor1D;
      let perList: tf.Tensor1D;
      let loss: tf.Scalar;
      if (reduction === 'sum') {
        perList = perListSum;
        loss = tf.sum(perListSum) as tf.Scalar;
      } else {
        perList = safeDiv(perListSum, perListPairs) as tf.Tensor1D;
        loss =
          reduction === 'mean'
            ? (safeDiv(tf.sum(perListSum), tf.sum(perListPairs)) as tf.Scalar)
            : (safeDiv(tf.sum(perList), tf.sum(tf.cast(tf.greater(perListPairs, 0), 'float32'))) as tf.Scalar);
      }
      return { loss, perList };
    });
}

/** Pair weights [lists, n, n] in predicted order from normalised gains g [lists, n]. */
function schemeWeights(scheme: LambdaScheme, g: tf.Tensor2D, n: number, mu: number): tf.Tensor {
  // D_r = log2(1 + r), r 1-based.
  const invD = Array.from({ length: n + 1 }, (_, m) => (m === 0 ? 0 : 1 / Math.log2(1 + m)));
  let gd: tf.Tensor | undefined;
  const gDiff = () => (gd ??= tf.abs(pairDiff(g))); // NDCG-Loss2++ needs it twice
  const ndcg2 = () => {
    const delta = Array.from({ length: n }, (_, i) =>
      Array.from({ length: n }, (_, j) => (i === j ? 0 : Math.abs(invD[Math.abs(i - j)] - invD[Math.abs(i - j) + 1]))),
    );
    return tf.mul(tf.tensor2d(delta), gDiff());
  };
  const lambdaRank = () => {
    const d = Array.from({ length: n }, (_, i) => Array.from({ length: n }, (_, j) => Math.abs(invD[i + 1] - invD[j + 1])));
    return tf.mul(tf.tensor2d(d), gDiff());
  };
  switch (scheme) {
    case 'ranknet':
      return tf.ones([g.shape[0], n, n]);
    case 'ndcg_loss1':
      return tf.tile(tf.expandDims(tf.mul(g, tf.tensor1d(invD.slice(1))), 2), [1, 1, n]);
    case 'ndcg_loss2':
      return ndcg2();
    case 'lambdarank':
      return lambdaRank();
    case 'ndcg_loss2pp':
      return tf.add(tf.mul(mu, ndcg2()), lambdaRank());
  }
}

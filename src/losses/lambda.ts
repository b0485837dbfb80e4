// LambdaLoss (Wang et al. 2018): pairwise logistic loss with NDCG-derived pair weights, computed in
// the order of the current predictions. Follows allRank's lambdaLoss. Unreduced form: ℓ[b, r, q] for
// the pair at predicted positions (r, q), weight = scheme weight × sample weight of the item at r.
import * as tf from '@tensorflow/tfjs-core';
import { InputError } from '../utils/errors.js';
import type { RankingLoss } from './types.js';
import { hostLoss, lambdaHost } from './fast.js';
import { defineLoss, itemWeights, LAMBDA_ALIASES, reductionSpec, resolveReduction, type Reduction } from './reduction.js';
import {
  applyPermutation,
  checkOptions,
  idealDcg,
  listLengths,
  maskedLabels,
  noGrad,
  pairDiff,
  safeDiv,
  sanitize,
  scaledGains,
  sortPermutation,
  stopGradient,
  type GainFunction,
  type SortKey,
} from './utils.js';

/**
 * Pair weighting scheme (allRank names in brackets):
 * - 'ranknet' (None / rankNet_scheme): 1 — plain RankNet in predicted order;
 * - 'ranknet_weighted_by_gt_diff' (rankNetWeightedByGTDiff_scheme): |y_i − y_j|;
 * - 'ranknet_weighted_by_gt_diff_powed' (rankNetWeightedByGTDiffPowed_scheme): |y_i² − y_j²|;
 * - 'ndcg_loss1' (ndcgLoss1_scheme): G_i / D_i, over all pairs of real items (not only label_i > label_j);
 * - 'ndcg_loss2' (ndcgLoss2_scheme): |1/D_{|i−j|} − 1/D_{|i−j|+1}| · |G_i − G_j|;
 * - 'lambdarank' (lambdaRank_scheme): |1/D_i − 1/D_j| · |G_i − G_j|;
 * - 'ndcg_loss2pp' (ndcgLoss2PP_scheme): μ · ndcg_loss2 + lambdarank.
 * G = gain / maxDCG@k, D_r = log2(1 + r) for 1-based predicted positions r; y = labels clamped at 0.
 */
export type LambdaScheme =
  | 'ranknet'
  | 'ranknet_weighted_by_gt_diff'
  | 'ranknet_weighted_by_gt_diff_powed'
  | 'ndcg_loss1'
  | 'ndcg_loss2'
  | 'lambdarank'
  | 'ndcg_loss2pp';
const SCHEMES: readonly LambdaScheme[] = ['ranknet', 'ranknet_weighted_by_gt_diff', 'ranknet_weighted_by_gt_diff_powed', 'ndcg_loss1', 'ndcg_loss2', 'lambdarank', 'ndcg_loss2pp'];

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
   * Order of equal scores: 'label' (default) worse label first, then input index, so the loss does
   * not depend on input order; 'index' lower input index first (allRank's torch.sort).
   */
  ties?: 'label' | 'index';
  /**
   * allRank's clamps: σ(σ(s_i − s_j)) and its w-th power are clamped at this (allRank: 1e-10), so
   * badly misordered pairs stop contributing gradient. Default 0: exact log-sigmoid. With a clamp the
   * scheme weight sits inside the loss value (as allRank computes it); loss weights are the sample weights.
   */
  sigmoidClamp?: number;
  /**
   * 'SUM_OVER_BATCH_SIZE' (default; alias 'mean': mean over all kept pairs of the batch, as
   * sentence-transformers, RankGPT, TWOLAR, allRank reduction='mean'); 'SUM' (alias 'sum': allRank's
   * default); 'LIST_MEAN' (alias 'lists'); or any other reduction.
   */
  reduction?: Reduction | 'mean' | 'sum' | 'lists';
}

/**
 * LambdaLoss: −Σ w_ij log_b σ(σ(s_i − s_j)) over pairs with label_i > label_j in the predicted order.
 * Unlike allRank it does not clamp σ(·) at 1e-10 unless `sigmoidClamp` asks for it; the
 * log-sigmoid is computed exactly as −softplus.
 */
export function lambdaLoss(opts: LambdaLossOptions = {}): RankingLoss {
  checkOptions('lambdaloss', opts, {
    scheme: SCHEMES,
    k: 'integer',
    sigma: 'positive',
    mu: 'nonnegative',
    gain: ['exp2', 'linear'],
    logBase: 'positive',
    ties: ['label', 'index'],
    sigmoidClamp: 'nonnegative',
    reduction: reductionSpec(LAMBDA_ALIASES),
  });
  const scheme = opts.scheme ?? 'ndcg_loss2pp';
  const sigma = opts.sigma ?? 1;
  const mu = opts.mu ?? 10;
  const lnBase = Math.log(opts.logBase ?? 2);
  if (!(lnBase > 0)) throw new InputError(`logBase of loss 'lambdaloss' must be > 1`, { field: 'lossOptions.logBase' });
  const clamp = opts.sigmoidClamp ?? 0;
  const lnClamp = clamp > 0 ? Math.log(clamp) : 0;
  const reduction = resolveReduction(opts.reduction, 'SUM_OVER_BATCH_SIZE', LAMBDA_ALIASES);
  const hostOpts = {
    scheme,
    k: opts.k ?? Infinity,
    sigma,
    mu,
    exp2: (opts.gain ?? 'exp2') === 'exp2',
    lnBase,
    tiesByIndex: opts.ties === 'index',
    clamp,
    reduction,
  };
  return defineLoss({
    reduction,
    // Closed form on the host (fast.ts): sorting, weights and gradient in one pass.
    fast: (scores, labels, mask, weights) => hostLoss(scores, labels, mask, weights, (h) => lambdaHost(h, hostOpts)),
    unreduced: (scores, labels, mask, weights) => {
      const n = scores.shape[1];
      const k = opts.k ?? n;
      const s = sanitize(scores, mask);
      const y = maskedLabels(labels, mask);
      const keys: SortKey[] = [{ x: s, descending: true }];
      if ((opts.ties ?? 'label') === 'label') keys.push({ x: y, descending: false });
      const p = sortPermutation(keys, mask);
      const sortedS = applyPermutation(p, s);
      const sortedY = applyPermutation(p, y);
      const len = listLengths(mask);
      const pos = tf.range(0, n, 1, 'float32');
      // Real items sit at positions < len after sorting; pairs also need both positions < k.
      const kept = tf.cast(tf.logicalAnd(tf.less(tf.expandDims(pos, 0), tf.expandDims(len, 1)), tf.less(tf.expandDims(pos, 0), k)), 'float32');
      let pairs: tf.Tensor = tf.mul(tf.expandDims(kept, 2), tf.expandDims(kept, 1));
      if (scheme !== 'ndcg_loss1') pairs = tf.mul(pairs, noGrad((d) => tf.cast(tf.greater(d, 0), 'float32'), [pairDiff(sortedY)]));
      let w: tf.Tensor;
      if (scheme === 'ranknet') w = tf.onesLike(pairs);
      else if (scheme === 'ranknet_weighted_by_gt_diff' || scheme === 'ranknet_weighted_by_gt_diff_powed') {
        const yc = stopGradient(tf.relu(sortedY) as tf.Tensor2D);
        w = tf.abs(pairDiff(scheme === 'ranknet_weighted_by_gt_diff' ? yc : (tf.square(yc) as tf.Tensor2D)));
      } else {
        const gains = scaledGains(labels, mask, opts.gain ?? 'exp2');
        const maxDcg = idealDcg(gains, mask, k);
        const g = stopGradient(safeDiv(applyPermutation(p, gains), tf.expandDims(maxDcg, 1)) as tf.Tensor2D);
        w = schemeWeights(scheme, g, n, mu);
      }
      const logSig = tf.neg(tf.softplus(tf.mul(pairDiff(sortedS), -sigma))); // log σ(σ(s_i − s_j))
      let sampleW: tf.Tensor = tf.onesLike(pairs);
      if (weights) sampleW = tf.expandDims(applyPermutation(p, itemWeights(weights, mask)), 2);
      if (clamp > 0) {
        // allRank: log(max(max(σ, ε)^w, ε)) = max(w · max(log σ, ln ε), ln ε).
        const inner = tf.maximum(tf.mul(w, tf.maximum(logSig, lnClamp)), lnClamp);
        return { values: tf.div(tf.neg(inner), lnBase), weights: tf.mul(sampleW, tf.onesLike(pairs)), present: pairs };
      }
      return { values: tf.div(tf.neg(logSig), lnBase), weights: tf.mul(tf.mul(w, sampleW), tf.onesLike(pairs)), present: pairs };
    },
  });
}

/** Rank-discount constants per list size (plain arrays: tensors made from them per call are cheap). */
const constantCache = new Map<number, { invD: Float32Array; ndcg2: Float32Array; lambdaRank: Float32Array }>();

function constantsFor(n: number) {
  let c = constantCache.get(n);
  if (!c) {
    // D_r = log2(1 + r), r 1-based.
    const invD = new Float32Array(n + 1);
    for (let m = 1; m <= n; m++) invD[m] = 1 / Math.log2(1 + m);
    const ndcg2 = new Float32Array(n * n);
    const lambdaRank = new Float32Array(n * n);
    for (let i = 0; i < n; i++)
      for (let j = 0; j < n; j++) {
        const d = Math.abs(i - j);
        ndcg2[i * n + j] = i === j ? 0 : Math.abs(1 / Math.log2(1 + d) - 1 / Math.log2(2 + d));
        lambdaRank[i * n + j] = Math.abs(invD[i + 1] - invD[j + 1]);
      }
    c = { invD, ndcg2, lambdaRank };
    if (constantCache.size > 64) constantCache.clear();
    constantCache.set(n, c);
  }
  return c;
}

/** Pair weights [lists, n, n] in predicted order from normalised gains g [lists, n]. */
function schemeWeights(scheme: LambdaScheme, g: tf.Tensor2D, n: number, mu: number): tf.Tensor {
  const c = constantsFor(n);
  let gd: tf.Tensor | undefined;
  const gDiff = () => (gd ??= tf.abs(pairDiff(g))); // NDCG-Loss2++ needs it twice
  const ndcg2 = () => tf.mul(tf.tensor2d(c.ndcg2, [n, n]), gDiff());
  const lambdaRank = () => tf.mul(tf.tensor2d(c.lambdaRank, [n, n]), gDiff());
  switch (scheme) {
    case 'ndcg_loss1':
      return tf.tile(tf.expandDims(tf.mul(g, tf.tensor1d(c.invD.subarray(1))), 2), [1, 1, n]);
    case 'ndcg_loss2':
      return ndcg2();
    case 'lambdarank':
      return lambdaRank();
    case 'ndcg_loss2pp':
      return tf.add(tf.mul(mu, ndcg2()), lambdaRank());
    default:
      throw new Error(`scheme ${scheme} has no gain weights`);
  }
}

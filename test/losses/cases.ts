// The table every loss test loops over: registry name, options, float64 reference, label kind.
import * as tf from '@tensorflow/tfjs-core';
import { getLoss } from '../../src/losses/registry.js';
import type { RankingLoss } from '../../src/losses/types.js';
import * as ref from './reference.js';
import type { Matrix, RefLoss } from './reference.js';
import { SeededRandom } from '../../src/utils/random.js';

/** graded: integers 0..3; prob: [0, 1]; teacher: real-valued teacher logits. */
export type LabelKind = 'graded' | 'prob' | 'teacher';

export interface LossCase {
  title: string;
  name: string;
  options?: Record<string, unknown>;
  ref: RefLoss;
  labels: LabelKind;
  /** Permuting items with their labels leaves the value unchanged. */
  permutationInvariant: boolean;
  /** Sample weights given to the loss: per item (a function of the label) or per list. */
  weights?: 'item' | 'list';
  /** A new loss (same seed) for every call: its random draws are the same each time (Gumbel cases). */
  fresh?: boolean;
  /**
   * Largest label of the numerics matrix when the loss's gains are 2^y without rescaling (its value
   * is ~2^y: beyond ~120 it exceeds float32, in TF-Ranking too). Default 1e3.
   */
  maxLabel?: number;
}

/** TF-Ranking lambda weights used by the cases. */
const NDCG_LW = { type: 'ndcg', topn: 3, smoothFraction: 0.5 };

export const CASES: LossCase[] = [
  { title: 'sigmoid_cross_entropy', name: 'sigmoid_cross_entropy', ref: ref.refSigmoidCrossEntropy, labels: 'prob', permutationInvariant: true },
  {
    title: 'sigmoid_cross_entropy T=2 max-normalised lists',
    name: 'sigmoid_cross_entropy',
    options: { temperature: 2, labelNormalization: 'max', reduction: 'lists' },
    ref: ref.refSigmoidCrossEntropy,
    labels: 'graded',
    permutationInvariant: true,
  },
  { title: 'mse', name: 'mse', ref: ref.refMSE, labels: 'graded', permutationInvariant: true },
  { title: 'mse sum', name: 'mse', options: { reduction: 'sum' }, ref: ref.refMSE, labels: 'graded', permutationInvariant: true },
  { title: 'ranknet', name: 'ranknet', ref: ref.refRankNet, labels: 'graded', permutationInvariant: true },
  {
    title: 'ranknet σ=2 diff-weighted lists log2',
    name: 'ranknet',
    options: { sigma: 2, labelDiffWeighted: true, reduction: 'lists', logBase: 2 },
    ref: ref.refRankNet,
    labels: 'graded',
    permutationInvariant: true,
  },
  {
    title: 'ranknet T=0.5 squared-diff weighted_pairs',
    name: 'ranknet',
    options: { temperature: 0.5, labelDiffWeighted: 'squared', reduction: 'weighted_pairs' },
    ref: ref.refRankNet,
    labels: 'graded',
    permutationInvariant: true,
  },
  { title: 'ranknet items', name: 'ranknet', options: { reduction: 'items' }, ref: ref.refRankNet, labels: 'graded', permutationInvariant: true },
  { title: 'pairwise_hinge', name: 'pairwise_hinge', ref: ref.refPairwiseHinge, labels: 'graded', permutationInvariant: true },
  {
    title: 'pairwise_hinge m=0.5 T=2 sum',
    name: 'pairwise_hinge',
    options: { margin: 0.5, temperature: 2, reduction: 'sum' },
    ref: ref.refPairwiseHinge,
    labels: 'graded',
    permutationInvariant: true,
  },
  { title: 'pairwise_soft_zero_one', name: 'pairwise_soft_zero_one', ref: ref.refPairwiseSoftZeroOne, labels: 'graded', permutationInvariant: true },
  { title: 'softmax_cross_entropy', name: 'softmax_cross_entropy', ref: ref.refSoftmaxCrossEntropy, labels: 'graded', permutationInvariant: true },
  {
    title: 'softmax_cross_entropy softmax labels uniform mean T=0.5',
    name: 'softmax_cross_entropy',
    options: { labelNormalization: 'softmax', labelTemperature: 2, listWeights: 'uniform', reduction: 'mean', temperature: 0.5 },
    ref: ref.refSoftmaxCrossEntropy,
    labels: 'graded',
    permutationInvariant: true,
  },
  {
    title: 'softmax_cross_entropy weighted_mean',
    name: 'softmax_cross_entropy',
    options: { reduction: 'weighted_mean' },
    ref: ref.refSoftmaxCrossEntropy,
    labels: 'graded',
    permutationInvariant: true,
  },
  { title: 'poly1_softmax', name: 'poly1_softmax', ref: ref.refPoly1Softmax, labels: 'graded', permutationInvariant: true },
  { title: 'poly1_softmax ε=-0.5 sum', name: 'poly1_softmax', options: { epsilon: -0.5, reduction: 'sum' }, ref: ref.refPoly1Softmax, labels: 'graded', permutationInvariant: true },
  { title: 'listnet', name: 'listnet', ref: ref.refListNet, labels: 'graded', permutationInvariant: true },
  { title: 'listnet T=2 Ty=0.5', name: 'listnet', options: { temperature: 2, labelTemperature: 0.5 }, ref: ref.refListNet, labels: 'graded', permutationInvariant: true },
  { title: 'listmle', name: 'listmle', ref: ref.refListMLE, labels: 'graded', permutationInvariant: true },
  { title: 'listmle ties=input T=2', name: 'listmle', options: { ties: 'input', temperature: 2 }, ref: ref.refListMLE, labels: 'graded', permutationInvariant: false },
  { title: 'p_listmle', name: 'p_listmle', ref: ref.refPListMLE, labels: 'graded', permutationInvariant: true },
  {
    title: 'p_listmle 1/log2(r+2) weights sum',
    name: 'p_listmle',
    options: { positionWeights: (r: number) => 1 / Math.log2(r + 2), reduction: 'sum' },
    ref: ref.refPListMLE,
    labels: 'graded',
    permutationInvariant: true,
  },
  { title: 'lambdaloss (ndcg_loss2pp)', name: 'lambdaloss', ref: ref.refLambdaLoss, labels: 'graded', permutationInvariant: true },
  { title: 'lambdaloss ndcg_loss1', name: 'lambdaloss', options: { scheme: 'ndcg_loss1' }, ref: ref.refLambdaLoss, labels: 'graded', permutationInvariant: true },
  { title: 'lambdaloss ndcg_loss2 k=3', name: 'lambdaloss', options: { scheme: 'ndcg_loss2', k: 3 }, ref: ref.refLambdaLoss, labels: 'graded', permutationInvariant: true },
  {
    title: 'lambdaloss ndcg_loss2pp μ=3 σ=2 sum ln',
    name: 'lambdaloss',
    options: { scheme: 'ndcg_loss2pp', mu: 3, sigma: 2, reduction: 'sum', logBase: Math.E },
    ref: ref.refLambdaLoss,
    labels: 'graded',
    permutationInvariant: true,
  },
  { title: 'lambdaloss lambdarank linear lists', name: 'lambdaloss', options: { scheme: 'lambdarank', gain: 'linear', reduction: 'lists' }, ref: ref.refLambdaLoss, labels: 'graded', permutationInvariant: true },
  { title: 'lambdaloss ranknet', name: 'lambdaloss', options: { scheme: 'ranknet' }, ref: ref.refLambdaLoss, labels: 'graded', permutationInvariant: true },
  { title: 'approx_ndcg', name: 'approx_ndcg', ref: ref.refApproxNDCG, labels: 'graded', permutationInvariant: true },
  { title: 'approx_ndcg α=10 linear', name: 'approx_ndcg', options: { alpha: 10, gain: 'linear' }, ref: ref.refApproxNDCG, labels: 'graded', permutationInvariant: true },
  { title: 'neural_ndcg', name: 'neural_ndcg', ref: ref.refNeuralNDCG, labels: 'graded', permutationInvariant: true },
  { title: 'neural_ndcg τ=0.5 k=3 linear', name: 'neural_ndcg', options: { temperature: 0.5, k: 3, gain: 'linear' }, ref: ref.refNeuralNDCG, labels: 'graded', permutationInvariant: true },
  {
    title: 'neural_ndcg without Sinkhorn (TF-Ranking NeuralSortNDCG)',
    name: 'neural_ndcg',
    options: { sinkhornIterations: 0 },
    ref: ref.refNeuralNDCG,
    labels: 'graded',
    permutationInvariant: true,
  },
  { title: 'kl_divergence', name: 'kl_divergence', ref: ref.refKLDivergence, labels: 'teacher', permutationInvariant: true },
  {
    title: 'kl_divergence τ=2 τ_t=0.5 no τ²',
    name: 'kl_divergence',
    options: { temperature: 2, teacherTemperature: 0.5, scaleByTemperatureSquared: false },
    ref: ref.refKLDivergence,
    labels: 'teacher',
    permutationInvariant: true,
  },
  { title: 'margin_mse', name: 'margin_mse', ref: ref.refMarginMSE, labels: 'teacher', permutationInvariant: true },
  { title: 'margin_mse preferred lists', name: 'margin_mse', options: { pairs: 'preferred', reduction: 'lists' }, ref: ref.refMarginMSE, labels: 'teacher', permutationInvariant: true },
  { title: 'margin_mse first', name: 'margin_mse', options: { pairs: 'first' }, ref: ref.refMarginMSE, labels: 'teacher', permutationInvariant: false },
  // ---- reductions, sample weights, lambda weights (issue 18) ----
  { title: 'ranknet item weights SUM_BY_NONZERO_WEIGHTS', name: 'ranknet', options: { reduction: 'SUM_BY_NONZERO_WEIGHTS' }, ref: ref.refRankNetGeneral, labels: 'graded', permutationInvariant: true, weights: 'item' },
  { title: 'ranknet list weights MEAN', name: 'ranknet', options: { reduction: 'MEAN' }, ref: ref.refRankNetGeneral, labels: 'graded', permutationInvariant: true, weights: 'list' },
  { title: 'ranknet NDCGLambdaWeight topn=3 smooth 0.5', name: 'ranknet', options: { lambdaWeight: NDCG_LW }, ref: ref.refRankNetGeneral, labels: 'graded', permutationInvariant: true },
  { title: 'ranknet NDCGLambdaWeightV2 topn=2 SUM', name: 'ranknet', options: { lambdaWeight: { type: 'ndcg_v2', topn: 2 }, reduction: 'SUM' }, ref: ref.refRankNetGeneral, labels: 'graded', permutationInvariant: true },
  { title: 'ranknet YetiDCGLambdaWeight normalised', name: 'ranknet', options: { lambdaWeight: { type: 'yeti_dcg', normalized: true } }, ref: ref.refRankNetGeneral, labels: 'graded', permutationInvariant: true },
  { title: 'ranknet LabelDiffLambdaWeight item weights', name: 'ranknet', options: { lambdaWeight: { type: 'label_diff' }, reduction: 'MEAN' }, ref: ref.refRankNetGeneral, labels: 'graded', permutationInvariant: true, weights: 'item' },
  { title: 'pairwise_hinge DCGLambdaWeight SUM_OVER_ITEMS', name: 'pairwise_hinge', options: { lambdaWeight: { type: 'dcg' }, reduction: 'SUM_OVER_ITEMS' }, ref: ref.refPairwiseHingeGeneral, labels: 'graded', permutationInvariant: true },
  { title: 'pairwise_hinge PrecisionLambdaWeight topn=2, torch gradient at the margin', name: 'pairwise_hinge', options: { lambdaWeight: { type: 'precision', topn: 2 }, gradientAtMargin: 1 }, ref: ref.refPairwiseHingeGeneral, labels: 'graded', permutationInvariant: true },
  { title: 'softmax_cross_entropy NDCGLambdaWeight item weights', name: 'softmax_cross_entropy', options: { lambdaWeight: { type: 'ndcg' } }, ref: ref.refSoftmaxGeneral, labels: 'graded', permutationInvariant: true, weights: 'item' },
  { title: 'softmax_cross_entropy DCGLambdaWeight list weights MEAN', name: 'softmax_cross_entropy', options: { lambdaWeight: { type: 'dcg', topn: 2 }, reduction: 'MEAN' }, ref: ref.refSoftmaxGeneral, labels: 'graded', permutationInvariant: true, weights: 'list' },
  { title: 'listnet allRank ε item weights', name: 'listnet', options: { logEpsilon: 1e-10 }, ref: ref.refListNetGeneral, labels: 'graded', permutationInvariant: true, weights: 'item' },
  { title: 'listmle allRank ε, ListMLELambdaWeight, list weights SUM', name: 'listmle', options: { logEpsilon: 1e-10, lambdaWeight: { type: 'listmle' }, reduction: 'SUM' }, ref: ref.refListMLEGeneral, labels: 'graded', permutationInvariant: true, weights: 'list' },
  { title: 'lambdaloss ranknet_weighted_by_gt_diff sum', name: 'lambdaloss', options: { scheme: 'ranknet_weighted_by_gt_diff', reduction: 'sum' }, ref: ref.refLambdaLossGeneral, labels: 'graded', permutationInvariant: true },
  {
    title: 'lambdaloss gt_diff_powed, σ clamp 1e-10, allRank tie order, item weights',
    name: 'lambdaloss',
    options: { scheme: 'ranknet_weighted_by_gt_diff_powed', sigmoidClamp: 1e-10, ties: 'index', sigma: 2 },
    ref: ref.refLambdaLossGeneral,
    labels: 'graded',
    permutationInvariant: false,
    weights: 'item',
  },
  { title: 'unique_softmax', name: 'unique_softmax', ref: ref.refUniqueSoftmax, labels: 'graded', permutationInvariant: true, maxLabel: 100 },
  { title: 'unique_softmax T=2 item weights SUM', name: 'unique_softmax', options: { temperature: 2, reduction: 'SUM' }, ref: ref.refUniqueSoftmax, labels: 'graded', permutationInvariant: true, weights: 'item', maxLabel: 100 },
  { title: 'kl_divergence SUM_OVER_ITEMS (torch kl_div mean)', name: 'kl_divergence', options: { reduction: 'SUM_OVER_ITEMS' }, ref: ref.refKLGeneral, labels: 'teacher', permutationInvariant: true },
  { title: 'kl_divergence batchmean item weights', name: 'kl_divergence', options: { reduction: 'batchmean' }, ref: ref.refKLGeneral, labels: 'teacher', permutationInvariant: true, weights: 'item' },
  { title: 'mse item weights MEAN', name: 'mse', options: { reduction: 'MEAN' }, ref: ref.refMSEGeneral, labels: 'graded', permutationInvariant: true, weights: 'item' },
  { title: 'monot5_cross_entropy (log P(true) scores)', name: 'monot5_cross_entropy', ref: ref.refMonoT5, labels: 'graded', permutationInvariant: true },
  { title: 'monot5_cross_entropy logit scores relevantAbove=1 LIST_MEAN', name: 'monot5_cross_entropy', options: { scores: 'logit', relevantAbove: 1, reduction: 'LIST_MEAN' }, ref: ref.refMonoT5, labels: 'graded', permutationInvariant: true },
  { title: 'approx_ndcg allRank sigmoid clamp', name: 'approx_ndcg', options: { sigmoidClamp: 1e-10 }, ref: ref.refApproxNDCG, labels: 'graded', permutationInvariant: true },
  {
    title: 'gumbel_approx_ndcg (TF-Ranking defaults, seeded)',
    name: 'gumbel_approx_ndcg',
    options: { gumbel: { seed: 3, sampleSize: 3 } },
    ref: ref.refGumbel(ref.refApproxNDCG, { temperature: 0.1 }),
    labels: 'graded',
    permutationInvariant: false,
    fresh: true,
  },
  {
    title: 'softmax_cross_entropy Gumbel-sampled',
    name: 'softmax_cross_entropy',
    options: { gumbel: { seed: 5, sampleSize: 2, temperature: 0.5 } },
    ref: ref.refGumbel(ref.refSoftmaxCrossEntropy, {}),
    labels: 'graded',
    permutationInvariant: false,
    fresh: true,
  },
];

/** The case's loss with its sample weights (from the labels and mask, as the reference computes them). */
export function makeLoss(c: LossCase): RankingLoss {
  const base = getLoss(c.name, c.options);
  const kind = c.weights;
  const get = c.fresh ? () => getLoss(c.name, c.options) : () => base;
  if (!kind) return c.fresh ? (s, y, m) => get()(s, y, m) : base;
  return (s, y, m) => {
    // Left to the caller's tidy: the gradient's backward pass still reads it.
    const w = tf.tensor(ref.sampleWeights(kind, y.arraySync(), m.arraySync()) as number[]) as tf.Tensor1D | tf.Tensor2D;
    return get()(s, y, m, w);
  };
}

/** The case's float64 reference, given the same sample weights. */
export function caseRef(c: LossCase): RefLoss {
  if (!c.weights) return (S, Y, M) => c.ref(S, Y, M, c.options);
  const kind = c.weights;
  return (S, Y, M) => c.ref(S, Y, M, { ...c.options, __weights: ref.sampleWeights(kind, Y, M), __weightKind: kind });
}

export interface Evaluated {
  loss: number;
  perList: number[];
  grad: Matrix;
}

/** Value, per-list values and d loss / d scores, all as plain arrays; no tensors left behind. */
export function evaluate(loss: RankingLoss, S: Matrix, Y: Matrix, M: Matrix, withGrad = true): Evaluated {
  return tf.tidy(() => {
    const s = tf.tensor2d(S);
    const y = tf.tensor2d(Y);
    const m = tf.tensor2d(M);
    const r = loss(s, y, m);
    const grad = withGrad ? (tf.grad((x: tf.Tensor) => loss(x as tf.Tensor2D, y, m).loss)(s).arraySync() as Matrix) : [];
    return { loss: r.loss.dataSync()[0], perList: Array.from(r.perList.dataSync()), grad };
  });
}

/** Small seeded PRNG for test data. */
export function rng(seed: number): () => number {
  const g = new SeededRandom(seed);
  return () => g.next();
}

export function normal(r: () => number): number {
  return Math.sqrt(-2 * Math.log(r() + 1e-12)) * Math.cos(2 * Math.PI * r());
}

export function randomLabel(kind: LabelKind, r: () => number): number {
  if (kind === 'graded') return Math.floor(r() * 4);
  if (kind === 'prob') return r();
  return 2 * normal(r);
}

/** Garbage for padded slots: NaN, huge values and negative labels must all be ignored. */
export function padScore(r: () => number): number {
  return [NaN, 1e4, -1e4, 5 * normal(r)][Math.floor(r() * 4)];
}

export function padLabel(r: () => number): number {
  return [-1, 1e3, 3, NaN][Math.floor(r() * 4)];
}

export interface Batch {
  S: Matrix;
  Y: Matrix;
  M: Matrix;
}

/** A batch of `lists` lists of `n` slots, padding anywhere (probability pPad), one list maybe all padding. */
export function randomBatch(r: () => number, kind: LabelKind, lists = 4, n = 6, pPad = 0.3): Batch {
  const S: Matrix = [];
  const Y: Matrix = [];
  const M: Matrix = [];
  const emptyList = r() < 0.5 ? Math.floor(r() * lists) : -1;
  for (let b = 0; b < lists; b++) {
    const s: number[] = [];
    const y: number[] = [];
    const m: number[] = [];
    for (let i = 0; i < n; i++) {
      const pad = b === emptyList || r() < pPad;
      m.push(pad ? 0 : 1);
      s.push(pad ? padScore(r) : 1.5 * normal(r));
      y.push(pad ? padLabel(r) : randomLabel(kind, r));
    }
    S.push(s);
    Y.push(y);
    M.push(m);
  }
  return { S, Y, M };
}

/** The batch with padding inserted: every list gets extra padded slots at random places, plus one all-padding list. */
export function withPadding(batch: Batch, r: () => number, extra = 2): Batch & { where: number[][]; emptyAt: number } {
  const S: Matrix = [];
  const Y: Matrix = [];
  const M: Matrix = [];
  const where: number[][] = [];
  const n = batch.S[0].length + extra;
  for (let b = 0; b < batch.S.length; b++) {
    const pos = new Set<number>();
    while (pos.size < extra) pos.add(Math.floor(r() * n));
    const s: number[] = [];
    const y: number[] = [];
    const m: number[] = [];
    const w: number[] = [];
    let src = 0;
    for (let i = 0; i < n; i++) {
      if (pos.has(i)) {
        s.push(padScore(r));
        y.push(padLabel(r));
        m.push(0);
      } else {
        s.push(batch.S[b][src]);
        y.push(batch.Y[b][src]);
        m.push(batch.M[b][src]);
        w.push(i);
        src++;
      }
    }
    S.push(s);
    Y.push(y);
    M.push(m);
    where.push(w);
  }
  const emptyAt = Math.floor(r() * (S.length + 1));
  S.splice(emptyAt, 0, Array.from({ length: n }, () => padScore(r)));
  Y.splice(emptyAt, 0, Array.from({ length: n }, () => padLabel(r)));
  M.splice(emptyAt, 0, Array.from({ length: n }, () => 0));
  return { S, Y, M, where, emptyAt };
}

export function allFinite(x: number | number[] | Matrix): boolean {
  if (typeof x === 'number') return Number.isFinite(x);
  return (x as Array<number | number[]>).every((v) => allFinite(v as number | number[]));
}

export type Pad = 'anywhere' | 'end' | 'none';
/** A peer batch: 3 lists × 6 in allRank's convention (label −1 = padding), every list non-empty. */
export function peerBatch(seed: number, pad: Pad, labels: 'graded' | 'distinct' | 'teacher' = 'graded', scoreScale = 1.5, grid = 0): Batch {
  const r = rng(seed);
  const S: Matrix = [];
  const Y: Matrix = [];
  const M: Matrix = [];
  for (let b = 0; b < 3; b++) {
    const n = 6;
    const pads = pad === 'none' ? new Set<number>() : pad === 'end' ? new Set([n - 1, b === 0 ? -1 : n - 2]) : new Set([Math.floor(r() * n), b === 0 ? -1 : Math.floor(r() * n)]);
    S.push(Array.from({ length: n }, () => (grid ? Math.round(normal(r) * 2) * grid : scoreScale * normal(r))));
    Y.push(Array.from({ length: n }, (_, i) => (pads.has(i) ? -1 : labels === 'graded' ? Math.floor(r() * 4) : labels === 'teacher' ? 2 * normal(r) : Math.round(r() * 4000) / 1000)));
    M.push(Array.from({ length: n }, (_, i) => (pads.has(i) ? 0 : 1)));
  }
  return { S, Y, M };
}


// Cross-check against the libraries themselves, run, not transcribed: allRank 1.4.3's loss functions
// (torch 2.13), TF-Ranking 0.5.5's Keras and v1 losses, lambda weights and helpers (TensorFlow 2.21 +
// tf_keras), torch's MarginRankingLoss and kl_div, all in the loss peer venv
// (scripts/loss-peer-venv.mjs; created on first use, ~1.5 min). Values and gradients w.r.t. the
// scores on random padded batches, to 2e-5 + 1e-4·|x| (the tolerance of peer.test.ts).
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import { expectClose } from '../helpers.js';
// @ts-expect-error plain .mjs script without type declarations
import { ensureLossPeer } from '../../scripts/loss-peer-venv.mjs';
import { approxRanks, computeUnreducedLoss, getLoss, gumbelNoise, inverseMaxDcg, ndcg, neuralSort } from '../../src/losses/index.js';
import { SeededRandom } from '../../src/utils/random.js';
import { evaluate, normal, peerBatch as batch, rng, type Batch, type Pad } from './cases.js';
import { itemWeightOf, listWeightOf, type Matrix } from './reference.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const ATOL = 2e-5;
const RTOL = 1e-4;

interface Case {
  title: string;
  /** Peer: 'allrank' (allrank.models.losses.<fn>), 'torch' (margin_ranking / kl_div) or 'tf'. */
  lib: 'allrank' | 'torch' | 'tf';
  fn: string;
  kwargs?: Record<string, unknown>;
  ours: string;
  options?: Record<string, unknown>;
  pad?: Pad;
  labels?: 'graded' | 'distinct' | 'teacher';
  scoreScale?: number;
  grid?: number;
  weights?: 'item' | 'list';
  /** allRank's neuralNDCG is float32-only. */
  float32?: boolean;
}

const NDCG3 = { type: 'ndcg', topn: 3 };
const CASES: Case[] = [
  // ---- allRank ----
  { title: 'rankNet', lib: 'allrank', fn: 'rankNet', ours: 'ranknet' },
  { title: 'rankNet weight_by_diff', lib: 'allrank', fn: 'rankNet', kwargs: { weight_by_diff: true }, ours: 'ranknet', options: { labelDiffWeighted: true } },
  { title: 'rankNet weight_by_diff_powed', lib: 'allrank', fn: 'rankNet', kwargs: { weight_by_diff_powed: true }, ours: 'ranknet', options: { labelDiffWeighted: 'squared' } },
  { title: 'listNet (ε 1e-10 in the log)', lib: 'allrank', fn: 'listNet', ours: 'listnet', options: { logEpsilon: 1e-10 }, scoreScale: 8 },
  { title: 'listMLE (ε 1e-10 in the log)', lib: 'allrank', fn: 'listMLE', ours: 'listmle', options: { logEpsilon: 1e-10 }, labels: 'distinct', scoreScale: 12 },
  { title: 'lambdaLoss default: RankNet weights, sum, σ clamp, index ties', lib: 'allrank', fn: 'lambdaLoss', ours: 'lambdaloss', options: { scheme: 'ranknet', reduction: 'sum', sigmoidClamp: 1e-10, ties: 'index' }, grid: 0.5 },
  {
    title: 'lambdaLoss rankNetWeightedByGTDiff, clamp binding (scores ×30)',
    lib: 'allrank',
    fn: 'lambdaLoss',
    kwargs: { weighing_scheme: 'rankNetWeightedByGTDiff_scheme' },
    ours: 'lambdaloss',
    options: { scheme: 'ranknet_weighted_by_gt_diff', reduction: 'sum', sigmoidClamp: 1e-10, ties: 'index' },
    scoreScale: 30,
  },
  {
    title: 'lambdaLoss rankNetWeightedByGTDiffPowed mean σ=2',
    lib: 'allrank',
    fn: 'lambdaLoss',
    kwargs: { weighing_scheme: 'rankNetWeightedByGTDiffPowed_scheme', reduction: 'mean', sigma: 2 },
    ours: 'lambdaloss',
    options: { scheme: 'ranknet_weighted_by_gt_diff_powed', sigma: 2, sigmoidClamp: 1e-10, ties: 'index' },
  },
  { title: 'lambdaLoss ndcgLoss1', lib: 'allrank', fn: 'lambdaLoss', kwargs: { weighing_scheme: 'ndcgLoss1_scheme' }, ours: 'lambdaloss', options: { scheme: 'ndcg_loss1', reduction: 'sum', sigmoidClamp: 1e-10, ties: 'index' } },
  { title: 'lambdaLoss ndcgLoss2 k=3 mean', lib: 'allrank', fn: 'lambdaLoss', kwargs: { weighing_scheme: 'ndcgLoss2_scheme', k: 3, reduction: 'mean' }, ours: 'lambdaloss', options: { scheme: 'ndcg_loss2', k: 3, sigmoidClamp: 1e-10, ties: 'index' } },
  {
    title: 'lambdaLoss lambdaRank natural, ties in scores',
    lib: 'allrank',
    fn: 'lambdaLoss',
    kwargs: { weighing_scheme: 'lambdaRank_scheme', reduction_log: 'natural' },
    ours: 'lambdaloss',
    options: { scheme: 'lambdarank', reduction: 'sum', logBase: Math.E, sigmoidClamp: 1e-10, ties: 'index' },
    grid: 0.5,
  },
  {
    title: 'lambdaLoss ndcgLoss2PP μ=3 mean, clamp binding',
    lib: 'allrank',
    fn: 'lambdaLoss',
    kwargs: { weighing_scheme: 'ndcgLoss2PP_scheme', mu: 3, reduction: 'mean' },
    ours: 'lambdaloss',
    options: { mu: 3, sigmoidClamp: 1e-10, ties: 'index' },
    scoreScale: 30,
  },
  { title: 'approxNDCGLoss α=1', lib: 'allrank', fn: 'approxNDCGLoss', ours: 'approx_ndcg', options: { sigmoidClamp: 1e-10 } },
  { title: 'approxNDCGLoss α=10, clamp binding', lib: 'allrank', fn: 'approxNDCGLoss', kwargs: { alpha: 10 }, ours: 'approx_ndcg', options: { alpha: 10, sigmoidClamp: 1e-10 }, scoreScale: 6 },
  { title: 'neuralNDCG', lib: 'allrank', fn: 'neuralNDCG', ours: 'neural_ndcg', pad: 'end', float32: true },
  { title: 'neuralNDCG τ=0.5 k=3 linear', lib: 'allrank', fn: 'neuralNDCG', kwargs: { temperature: 0.5, k: 3, powered_relevancies: false }, ours: 'neural_ndcg', options: { temperature: 0.5, k: 3, gain: 'linear' }, pad: 'end', float32: true },
  // ---- torch ----
  { title: 'MarginRankingLoss at the margin (torch subgradient)', lib: 'torch', fn: 'margin_ranking', kwargs: { margin: 1, reduction: 'mean' }, ours: 'pairwise_hinge', options: { gradientAtMargin: 1 }, grid: 0.5 },
  { title: 'MarginRankingLoss sum m=0.5', lib: 'torch', fn: 'margin_ranking', kwargs: { margin: 0.5, reduction: 'sum' }, ours: 'pairwise_hinge', options: { gradientAtMargin: 1, margin: 0.5, reduction: 'SUM' }, grid: 0.5 },
  { title: 'kl_div batchmean', lib: 'torch', fn: 'kl_div', kwargs: { reduction: 'batchmean' }, ours: 'kl_divergence', options: { reduction: 'batchmean' }, labels: 'teacher' },
  { title: 'kl_div mean (per element, unpadded)', lib: 'torch', fn: 'kl_div', kwargs: { reduction: 'mean' }, ours: 'kl_divergence', options: { reduction: 'SUM_OVER_ITEMS' }, labels: 'teacher', pad: 'none' },
  { title: 'kl_div sum', lib: 'torch', fn: 'kl_div', kwargs: { reduction: 'sum' }, ours: 'kl_divergence', options: { reduction: 'SUM' }, labels: 'teacher' },
  // ---- TF-Ranking: pairwise with every lambda weight (TF scales DCG weights by the padded list size) ----
  { title: 'PairwiseLogisticLoss SUM', lib: 'tf', fn: 'PairwiseLogisticLoss', kwargs: { reduction: 'SUM' }, ours: 'ranknet', options: { reduction: 'SUM' } },
  { title: 'PairwiseLogisticLoss SUM_OVER_BATCH_SIZE, unpadded', lib: 'tf', fn: 'PairwiseLogisticLoss', kwargs: { reduction: 'SUM_OVER_BATCH_SIZE' }, ours: 'ranknet', options: { reduction: 'SUM_OVER_ITEMS' }, pad: 'none' },
  { title: 'PairwiseLogisticLoss item weights, T=2', lib: 'tf', fn: 'PairwiseLogisticLoss', kwargs: { reduction: 'SUM', temperature: 2 }, ours: 'ranknet', options: { reduction: 'SUM', temperature: 2 }, weights: 'item' },
  { title: 'PairwiseLogisticLoss LabelDiffLambdaWeight list weights', lib: 'tf', fn: 'PairwiseLogisticLoss', kwargs: { reduction: 'SUM', lambda_weight: { type: 'label_diff' } }, ours: 'ranknet', options: { reduction: 'SUM', lambdaWeight: { type: 'label_diff' } }, weights: 'list' },
  {
    title: 'PairwiseLogisticLoss DCGLambdaWeight topn=2 smooth 0.5',
    lib: 'tf',
    fn: 'PairwiseLogisticLoss',
    kwargs: { reduction: 'SUM', lambda_weight: { type: 'dcg', topn: 2, smoothFraction: 0.5 } },
    ours: 'ranknet',
    options: { reduction: 'SUM', lambdaWeight: { type: 'dcg', topn: 2, smoothFraction: 0.5, listSizeScaling: 'padded' } },
  },
  { title: 'PairwiseLogisticLoss NDCGLambdaWeight topn=3', lib: 'tf', fn: 'PairwiseLogisticLoss', kwargs: { reduction: 'SUM', lambda_weight: NDCG3 }, ours: 'ranknet', options: { reduction: 'SUM', lambdaWeight: { ...NDCG3, listSizeScaling: 'padded' } } },
  { title: 'PairwiseHingeLoss NDCGLambdaWeightV2 topn=2', lib: 'tf', fn: 'PairwiseHingeLoss', kwargs: { reduction: 'SUM', lambda_weight: { type: 'ndcg_v2', topn: 2 } }, ours: 'pairwise_hinge', options: { reduction: 'SUM', lambdaWeight: { type: 'ndcg_v2', topn: 2, listSizeScaling: 'padded' } } },
  { title: 'PairwiseSoftZeroOneLoss YetiDCGLambdaWeight', lib: 'tf', fn: 'PairwiseSoftZeroOneLoss', kwargs: { reduction: 'SUM', lambda_weight: { type: 'yeti_dcg' } }, ours: 'pairwise_soft_zero_one', options: { reduction: 'SUM', lambdaWeight: { type: 'yeti_dcg', listSizeScaling: 'padded' } } },
  { title: 'PairwiseLogisticLoss PrecisionLambdaWeight topn=2', lib: 'tf', fn: 'PairwiseLogisticLoss', kwargs: { reduction: 'SUM', lambda_weight: { type: 'precision', topn: 2 } }, ours: 'ranknet', options: { reduction: 'SUM', lambdaWeight: { type: 'precision', topn: 2 } } },
  { title: 'v1 PairwiseLogisticLoss SUM_BY_NONZERO_WEIGHTS item weights', lib: 'tf', fn: 'v1:PairwiseLogisticLoss', kwargs: { reduction: 'SUM_BY_NONZERO_WEIGHTS' }, ours: 'ranknet', options: { reduction: 'SUM_BY_NONZERO_WEIGHTS' }, weights: 'item' },
  { title: 'v1 PairwiseLogisticLoss MEAN', lib: 'tf', fn: 'v1:PairwiseLogisticLoss', kwargs: { reduction: 'MEAN' }, ours: 'ranknet', options: { reduction: 'MEAN' }, weights: 'item' },
  // ---- TF-Ranking: listwise and pointwise ----
  { title: 'SoftmaxLoss SUM', lib: 'tf', fn: 'SoftmaxLoss', kwargs: { reduction: 'SUM' }, ours: 'softmax_cross_entropy', options: { reduction: 'SUM' } },
  { title: 'SoftmaxLoss NDCGLambdaWeight item weights', lib: 'tf', fn: 'SoftmaxLoss', kwargs: { reduction: 'SUM', lambda_weight: { type: 'ndcg' } }, ours: 'softmax_cross_entropy', options: { reduction: 'SUM', lambdaWeight: { type: 'ndcg' } }, weights: 'item' },
  {
    title: 'SoftmaxLoss DCGLambdaWeight topn=2 list weights SUM_OVER_BATCH_SIZE',
    lib: 'tf',
    fn: 'SoftmaxLoss',
    kwargs: { reduction: 'SUM_OVER_BATCH_SIZE', lambda_weight: { type: 'dcg', topn: 2 } },
    ours: 'softmax_cross_entropy',
    options: { reduction: 'SUM_OVER_BATCH_SIZE', lambdaWeight: { type: 'dcg', topn: 2 } },
    weights: 'list',
  },
  { title: 'v1 PolyOneSoftmaxLoss ε=0.5 (not in TF-Ranking Keras)', lib: 'tf', fn: 'v1:PolyOneSoftmaxLoss', kwargs: { reduction: 'SUM', init: { epsilon: 0.5 } }, ours: 'poly1_softmax', options: { reduction: 'SUM', epsilon: 0.5 } },
  { title: 'UniqueSoftmaxLoss', lib: 'tf', fn: 'UniqueSoftmaxLoss', kwargs: { reduction: 'SUM' }, ours: 'unique_softmax', options: { reduction: 'SUM' } },
  { title: 'UniqueSoftmaxLoss list weights', lib: 'tf', fn: 'UniqueSoftmaxLoss', kwargs: { reduction: 'SUM' }, ours: 'unique_softmax', options: { reduction: 'SUM' }, weights: 'list' },
  { title: 'ListMLELoss ListMLELambdaWeight (unpadded: TF adds log k! for k padded slots)', lib: 'tf', fn: 'ListMLELoss', kwargs: { reduction: 'SUM', lambda_weight: { type: 'listmle' } }, ours: 'listmle', options: { reduction: 'SUM', lambdaWeight: { type: 'listmle' } }, labels: 'distinct', pad: 'none' },
  { title: 'ApproxNDCGLoss (temperature 0.1)', lib: 'tf', fn: 'ApproxNDCGLoss', kwargs: { reduction: 'SUM' }, ours: 'approx_ndcg', options: { temperature: 0.1, reduction: 'SUM' } },
  { title: 'ApproxNDCGLoss item weights', lib: 'tf', fn: 'ApproxNDCGLoss', kwargs: { reduction: 'SUM', temperature: 0.5 }, ours: 'approx_ndcg', options: { temperature: 0.5, reduction: 'SUM' }, weights: 'item' },
  { title: 'v1 NeuralSortNDCGLoss (no Sinkhorn)', lib: 'tf', fn: 'v1:NeuralSortNDCGLoss', kwargs: { reduction: 'SUM' }, ours: 'neural_ndcg', options: { sinkhornIterations: 0, reduction: 'SUM' } },
  { title: 'SigmoidCrossEntropyLoss item weights', lib: 'tf', fn: 'SigmoidCrossEntropyLoss', kwargs: { reduction: 'SUM' }, ours: 'sigmoid_cross_entropy', options: { reduction: 'SUM' }, weights: 'item' },
  { title: 'MeanSquaredLoss list weights', lib: 'tf', fn: 'MeanSquaredLoss', kwargs: { reduction: 'SUM' }, ours: 'mse', options: { reduction: 'SUM' }, weights: 'list' },
];

function sampleWeights(kind: 'item' | 'list', Y: Matrix, M: Matrix): number[] | Matrix {
  return kind === 'item' ? Y.map((row) => row.map((y) => (y < 0 ? 0 : itemWeightOf(y)))) : M.map((row) => listWeightOf(row.filter((m) => m > 0).length));
}

function ours(name: string, options: Record<string, unknown> | undefined, b: Batch, weights?: number[] | Matrix) {
  const loss = getLoss(name, options);
  if (!weights) return evaluate(loss, b.S, b.Y, b.M);
  const w = tf.tensor(weights as number[]) as tf.Tensor1D | tf.Tensor2D;
  try {
    return evaluate((s, y, m) => loss(s, y, m, w), b.S, b.Y, b.M);
  } finally {
    w.dispose();
  }
}

function runPeer(py: string, cases: unknown[]): Array<{ loss: number; grad: Matrix; extra?: unknown }> {
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'loss-peer-')), 'cases.json');
  fs.writeFileSync(file, JSON.stringify(cases));
  const r = spawnSync(py, [path.join(here, 'peer.py'), file], {
    encoding: 'utf8',
    timeout: 600000,
    maxBuffer: 64 << 20,
    env: { ...process.env, OMP_NUM_THREADS: '2', TF_CPP_MIN_LOG_LEVEL: '3', TF_USE_LEGACY_KERAS: '1', CUDA_VISIBLE_DEVICES: '' },
  });
  fs.rmSync(path.dirname(file), { recursive: true, force: true });
  if (r.status !== 0) throw new Error(`loss peer failed (${r.status}): ${r.stderr.slice(-4000)}`);
  return JSON.parse(r.stdout.trim().split('\n').pop() as string);
}

describe('losses: allRank, TF-Ranking and torch, run in the loss peer venv', function () {
  this.timeout(900000);
  // One peer process for all three tests (TensorFlow and torch take seconds to import).
  type Result = ReturnType<typeof runPeer>;
  const requests: unknown[][] = [];
  const results: Result[] = [];
  before(() => {
    const py = (ensureLossPeer as (o: { quiet: boolean }) => string)({ quiet: false });
    const all = runPeer(py, requests.flat());
    let at = 0;
    for (const r of requests) {
      results.push(all.slice(at, at + r.length));
      at += r.length;
    }
  });

  const inputs = CASES.map((c, i) => ({ c, b: batch(200 + i, c.pad ?? 'anywhere', c.labels, c.scoreScale, c.grid) }));
  requests.push(
      inputs.map(({ c, b }) => ({
        lib: c.lib === 'allrank' ? 'torch' : c.lib,
        fn: c.fn,
        kwargs: c.kwargs ?? {},
        scores: b.S,
        labels: b.Y,
        mask: b.M,
        float32: c.float32,
        weights: c.weights ? sampleWeights(c.weights, b.Y, b.M) : undefined,
      })),
  );
  it(`${CASES.length} loss/option cases: values and gradients (${ATOL} + ${RTOL}·|x|)`, () => {
    const peer = results[0];
    inputs.forEach(({ c, b }, i) => {
      const got = ours(c.ours, c.options, b, c.weights ? sampleWeights(c.weights, b.Y, b.M) : undefined);
      expectClose([got.loss], [peer[i].loss], ATOL, RTOL, `${c.title}: loss`);
      expectClose(got.grad.flat(), peer[i].grad.flat(), ATOL, RTOL, `${c.title}: gradient`);
    });
  });

  const specs = [
      { title: 'GumbelApproxNDCGLoss', ours: 'gumbel_approx_ndcg', options: { gumbel: { seed: 11, sampleSize: 4 }, reduction: 'SUM' }, inner: 'ApproxNDCGLoss', innerKw: { temperature: 0.1 }, T: 1 },
      { title: 'Gumbel softmax T_g=0.5', ours: 'softmax_cross_entropy', options: { gumbel: { seed: 12, sampleSize: 3, temperature: 0.5 }, reduction: 'SUM' }, inner: 'SoftmaxLoss', innerKw: {}, T: 0.5 },
    ];
  const rows = specs.map((sp, i) => {
    const b = batch(300 + i, 'anywhere');
    const A = sp.options.gumbel.sampleSize;
    const noise = Array.from(gumbelNoise(new SeededRandom(sp.options.gumbel.seed), b.M.flat(), 3, A, 6));
    return { sp, b, noise };
  });
  requests.push(
      rows.map(({ sp, b, noise }) => ({
        lib: 'tf',
        fn: 'gumbel',
        kwargs: { sample_size: sp.options.gumbel.sampleSize, gumbel_temperature: sp.T, inner: sp.inner, inner_kwargs: sp.innerKw, reduction: 'SUM' },
        scores: b.S,
        labels: b.Y,
        noise,
      })),
  );
  it('Gumbel-sampled ApproxNDCG and softmax: TF-Ranking GumbelSampler fed the noise our seeded generator drew', () => {
    const peer = results[1];
    rows.forEach(({ sp, b }, i) => {
      // A fresh loss per evaluation: value and gradient see the seed's first draw, as the peer does.
      const got = evaluate((s, y, m) => getLoss(sp.ours, sp.options)(s, y, m), b.S, b.Y, b.M);
      expectClose([got.loss], [peer[i].loss], ATOL, RTOL, `${sp.title}: loss`);
      expectClose(got.grad.flat(), peer[i].grad.flat(), ATOL, RTOL, `${sp.title}: gradient`);
    });
  });

  const b = batch(400, 'anywhere');
  const full = batch(401, 'none');
  const r = rng(402);
  const probe = b.S.map((row) => row.map(() => row.map(() => normal(r))));
  const probe2 = full.S.map((row) => row.map(() => normal(r)));
  const lw = { type: 'ndcg', topn: 3 };
  requests.push([
      { lib: 'tf', fn: 'neural_sort', scores: b.S, labels: b.Y, probe },
      { lib: 'tf', fn: 'approx_ranks', scores: full.S, labels: full.Y, probe: probe2 },
      { lib: 'tf', fn: 'ndcg_ranks', scores: full.S, labels: full.Y },
      { lib: 'tf', fn: 'inverse_max_dcg', scores: b.S, labels: b.Y, kwargs: { topn: 3 } },
      { lib: 'tf', fn: 'unreduced', scores: b.S, labels: b.Y, kwargs: { cls: 'PairwiseLogisticLoss', lambda_weight: lw } },
  ]);
  it('helpers and the unreduced form: neural_sort (padded rows), approx_ranks, ndcg, inverse_max_dcg, compute_unreduced_loss', () => {
    const peer = results[2];
    const t = (x: Matrix) => tf.tensor2d(x);
    // neural_sort: the matrix (padded rows uniform over padded columns) and d Σ(P ⊙ R)/ds.
    const ns = tf.tidy(() => {
      const [S, M, R] = [t(b.S), t(b.M), tf.tensor3d(probe)];
      const f = (s: tf.Tensor) => tf.sum(tf.mul(neuralSort(s as tf.Tensor2D, M, 1, 'uniform'), R));
      return { p: neuralSort(S, M, 1, 'uniform').arraySync(), g: tf.grad(f)(S).arraySync() as Matrix };
    });
    expectClose(ns.p.flat(2), (peer[0].extra as number[][][]).flat(2), ATOL, RTOL, 'neural_sort matrix');
    expectClose(ns.g.flat(), peer[0].grad.flat(), ATOL, RTOL, 'neural_sort gradient');
    const ar = tf.tidy(() => {
      const [S, M, R] = [t(full.S), t(full.M), t(probe2)];
      return { v: approxRanks(S, M).arraySync(), g: tf.grad((s: tf.Tensor) => tf.sum(tf.mul(approxRanks(s as tf.Tensor2D, M), R)))(S).arraySync() as Matrix };
    });
    expectClose(ar.v.flat(), (peer[1].extra as number[][]).flat(), ATOL, RTOL, 'approx_ranks');
    expectClose(ar.g.flat(), peer[1].grad.flat(), ATOL, RTOL, 'approx_ranks gradient');
    const nd = tf.tidy(() => {
      const [S, Y, M] = [t(full.S), t(full.Y), t(full.M)];
      const f = (s: tf.Tensor) => tf.sum(ndcg(Y, M, { ranks: approxRanks(s as tf.Tensor2D, M) }));
      return { v: Array.from(ndcg(Y, M, { ranks: approxRanks(S, M) }).dataSync()), g: tf.grad(f)(S).arraySync() as Matrix };
    });
    expectClose(nd.v, peer[2].extra as number[], ATOL, RTOL, 'ndcg(ranks)');
    expectClose(nd.g.flat(), peer[2].grad.flat(), ATOL, RTOL, 'ndcg gradient');
    const imd = tf.tidy(() => Array.from(inverseMaxDcg(t(b.Y), t(b.M), { topn: 3, rankDiscountFn: (rk) => tf.div(1, tf.log1p(rk)) }).dataSync()));
    expectClose(imd, peer[3].extra as number[], ATOL, RTOL, 'inverse_max_dcg topn=3');
    const un = tf.tidy(() => {
      const { losses, weights } = computeUnreducedLoss(getLoss('ranknet', { lambdaWeight: { ...lw, listSizeScaling: 'padded' } }), t(b.S), t(b.Y), t(b.M));
      return { lw: tf.mul(losses, weights).arraySync() as number[][][], w: weights.arraySync() as number[][][] };
    });
    const [tfLw, tfW] = peer[4].extra as unknown as number[][][][];
    expectClose(un.w.flat(2), tfW.flat(2), ATOL, RTOL, 'compute_unreduced_loss weights');
    expectClose(un.lw.flat(2), tfLw.flat(2), ATOL, RTOL, 'compute_unreduced_loss losses × weights');
  });
});

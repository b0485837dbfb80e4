// Closed-form fast paths for the common losses (RankNet and the other plain pairwise losses,
// softmax cross-entropy, LambdaLoss) at the list sizes of re-ranking (tens of items): the value, the
// per-list values and the gradient are computed in one pass over the real items on the host, in
// float64, and enter the graph through tf.customGrad (forward: one scalar; backward: dy × the saved
// gradient). A padded batch costs three small reads and three small tensors instead of ~70 kernel
// launches, which at these sizes dominate the time. Padded items are skipped, so they cannot leak in.
// The tensor implementations stay the definition (computeUnreducedLoss, options without a fast
// path) and the reference the fast paths are tested against (test/losses/fast.test.ts).
import * as tf from '@tensorflow/tfjs-core';
import type { LossResult } from './types.js';
import type { Reduction, SampleWeights } from './reduction.js';

let enabled = true;

/** Turns the fast paths off (true) or on again; tests compare both. Returns the previous setting. */
export function setFastPaths(on: boolean): boolean {
  const was = enabled;
  enabled = on;
  return was;
}

export function fastPathsEnabled(): boolean {
  return enabled;
}

/** Host copies of a batch: scores, labels, mask, per-item weights (1 when none). */
export interface HostBatch {
  b: number;
  n: number;
  s: Float32Array;
  y: Float32Array;
  real: Uint8Array;
  /** Per-item weight (per-list weights broadcast), or null. */
  w: Float32Array | null;
  /** Per-list weights given as such (listwise losses use them directly), or null. */
  listW: Float32Array | null;
}

export interface HostResult {
  loss: number;
  perList: Float64Array;
  /** d loss / d scores, [b·n]. */
  grad: Float64Array;
}

/** Runs `compute` on host copies and wires its value and gradient into the tape. */
export function hostLoss(scores: tf.Tensor2D, labels: tf.Tensor2D, mask: tf.Tensor2D, weights: SampleWeights, compute: (h: HostBatch) => HostResult): LossResult {
  const [b, n] = scores.shape;
  const m = mask.dataSync();
  const real = new Uint8Array(b * n);
  for (let i = 0; i < b * n; i++) real[i] = m[i] > 0 ? 1 : 0;
  let w: Float32Array | null = null;
  let listW: Float32Array | null = null;
  if (weights) {
    const wd = weights.dataSync() as Float32Array;
    if (weights.rank === 1) {
      listW = wd;
      w = new Float32Array(b * n);
      for (let i = 0; i < b * n; i++) w[i] = wd[Math.floor(i / n)];
    } else w = wd;
  }
  const h: HostBatch = { b, n, s: scores.dataSync() as Float32Array, y: labels.dataSync() as Float32Array, real, w, listW };
  const r = compute(h);
  const f = tf.customGrad((..._args: Array<tf.Tensor | tf.GradSaveFunc>) => {
    return {
      value: tf.scalar(r.loss),
      gradFunc: (dy: tf.Tensor) => tf.mul(dy, tf.tensor2d(Float32Array.from(r.grad), [b, n])),
    };
  });
  return { loss: f(scores) as tf.Scalar, perList: tf.tensor1d(Float32Array.from(r.perList)) };
}

const softplus = (x: number) => Math.max(x, 0) + Math.log1p(Math.exp(-Math.abs(x)));
const sigmoid = (x: number) => (x >= 0 ? 1 / (1 + Math.exp(-x)) : Math.exp(x) / (1 + Math.exp(x)));

/**
 * Reduction over entries accumulated per list (sums Σ w·ℓ, Σ w, counts, nonzero-weight counts) and
 * the per-entry gradient factor d loss / d (w·ℓ) of each list. Mirrors reduction.ts.
 */
export class Reducer {
  readonly sum: Float64Array;
  readonly wsum: Float64Array;
  readonly count: Float64Array;
  readonly nz: Float64Array;
  readonly items: Float64Array;
  constructor(readonly b: number) {
    this.sum = new Float64Array(b);
    this.wsum = new Float64Array(b);
    this.count = new Float64Array(b);
    this.nz = new Float64Array(b);
    this.items = new Float64Array(b);
  }
  add(list: number, l: number, w: number): void {
    this.sum[list] += w * l;
    this.wsum[list] += w;
    this.count[list] += 1;
    if (w !== 0) this.nz[list] += 1;
  }
  private total(x: Float64Array): number {
    let t = 0;
    for (const v of x) t += v;
    return t;
  }
  /** The loss and, per list, the factor c_b with d loss / d(w·ℓ) = c_b. */
  finish(reduction: Reduction, perListOf: 'reduction' | 'weighted_mean' | 'value'): { loss: number; coef: Float64Array; perList: Float64Array } {
    const coef = new Float64Array(this.b);
    const total = this.total(this.sum);
    const div = (d: number) => (d > 0 ? 1 / d : 0);
    let loss: number;
    if (reduction === 'LIST_MEAN') {
      let lists = 0;
      let acc = 0;
      for (let i = 0; i < this.b; i++)
        if (this.count[i] > 0) {
          lists++;
          acc += this.sum[i] / this.count[i];
        }
      loss = lists ? acc / lists : 0;
      for (let i = 0; i < this.b; i++) coef[i] = this.count[i] > 0 && lists ? 1 / (this.count[i] * lists) : 0;
    } else {
      const denom =
        reduction === 'SUM'
          ? 1
          : reduction === 'MEAN'
            ? div(this.total(this.wsum))
            : reduction === 'SUM_OVER_BATCH_SIZE'
              ? div(this.total(this.count))
              : reduction === 'SUM_BY_NONZERO_WEIGHTS'
                ? div(this.total(this.nz))
                : div(this.total(this.items));
      loss = total * denom;
      coef.fill(denom);
    }
    const perList = new Float64Array(this.b);
    for (let i = 0; i < this.b; i++) {
      const s = this.sum[i];
      if (perListOf === 'value') perList[i] = s;
      else if (perListOf === 'weighted_mean' || reduction === 'MEAN') perList[i] = this.wsum[i] !== 0 ? s / this.wsum[i] : 0;
      else if (reduction === 'SUM') perList[i] = s;
      else if (reduction === 'SUM_OVER_ITEMS') perList[i] = this.items[i] ? s / this.items[i] : 0;
      else if (reduction === 'SUM_BY_NONZERO_WEIGHTS') perList[i] = this.nz[i] ? s / this.nz[i] : 0;
      else perList[i] = this.count[i] ? s / this.count[i] : 0;
    }
    return { loss, coef, perList };
  }
}

export type PairKind = 'logistic' | 'hinge' | 'soft_zero_one';

/**
 * Pairwise losses on pairs y_i > y_j of real items: ℓ = f(scale·(s_i − s_j)), pair weight =
 * label weighting × the item weight of i. f: logistic softplus(−z)/lnBase, hinge max(0, m − z)
 * (gradient at the margin per `hingeAt`), soft zero-one sigmoid(−z).
 */
export function pairwiseHost(
  h: HostBatch,
  o: { kind: PairKind; scale: number; lnBase: number; margin: number; hingeAt: 0 | 1; weighting: 'none' | 'diff' | 'squared'; reduction: Reduction },
): HostResult {
  const { b, n, s, y, real, w } = h;
  const red = new Reducer(b);
  const kind = o.kind === 'logistic' ? 0 : o.kind === 'hinge' ? 1 : 2;
  const weighting = o.weighting === 'diff' ? 1 : o.weighting === 'squared' ? 2 : 0;
  const { scale, lnBase, margin } = o;
  // One pass: each pair's weighted slope d(w·ℓ)/d(s_i − s_j) goes to both items' unscaled gradient;
  // the reduction's factor is the same for every entry of a list, so it is applied per list at the end.
  const grad = new Float64Array(b * n);
  // Plain RankNet (every pair weighs 1): e^{−|z|} from per-item exponentials (a division per pair,
  // not an exp) and Σ log(1 + e) as the log of a running product (one log per list, not per pair).
  const plainLogistic = kind === 0 && weighting === 0 && !w;
  const E = new Float64Array(n);
  for (let l = 0; l < b; l++) {
    const base = l * n;
    let items = 0;
    let sum = 0;
    let wsum = 0;
    let count = 0;
    let nz = 0;
    if (plainLogistic) {
      let mx = -Infinity;
      for (let i = 0; i < n; i++) if (real[base + i]) mx = Math.max(mx, scale * s[base + i]);
      for (let i = 0; i < n; i++) E[i] = real[base + i] ? Math.exp(scale * s[base + i] - mx) : 0;
      let lin = 0;
      let logAcc = 0;
      let prod = 1;
      // Real items sorted by label, descending: item p pairs with the run of items after the last one
      // that ties its label, without testing every (i, j).
      const order: number[] = [];
      for (let i = 0; i < n; i++) if (real[base + i]) order.push(i);
      order.sort((a, c) => y[base + c] - y[base + a]);
      items = order.length;
      let lower = 0; // first position with a label below the current one
      for (let p = 0; p < order.length; p++) {
        const i = order[p];
        const yi = y[base + i];
        if (lower <= p) {
          lower = p + 1;
          while (lower < order.length && !(y[base + order[lower]] < yi)) lower++;
        }
        const si = s[base + i];
        const Ei = E[i];
        let gi = 0;
        for (let q = lower; q < order.length; q++) {
          const j = order[q];
          const z = scale * (si - s[base + j]);
          const Ej = E[j];
          // Far-apart scores may underflow one exponential: then take e^{−|z|} directly.
          const e = Ei > 1e-280 && Ej > 1e-280 ? (z >= 0 ? Ej / Ei : Ei / Ej) : Math.exp(-Math.abs(z));
          if (z < 0) lin -= z;
          prod *= 1 + e;
          if (prod > 1e250) {
            logAcc += Math.log(prod);
            prod = 1;
          }
          const g = (-(z >= 0 ? e / (1 + e) : 1 / (1 + e)) / lnBase) * scale;
          gi += g;
          grad[base + j] -= g;
        }
        count += order.length - lower;
        grad[base + i] += gi;
      }
      sum = (lin + logAcc + Math.log(prod)) / lnBase;
      red.sum[l] = sum;
      red.wsum[l] = count;
      red.count[l] = count;
      red.nz[l] = count;
      red.items[l] = items;
      continue;
    }
    for (let i = 0; i < n; i++) {
      if (!real[base + i]) continue;
      items++;
      const si = s[base + i];
      const yi = y[base + i];
      const wi = w ? w[base + i] : 1;
      for (let j = 0; j < n; j++) {
        const yj = y[base + j];
        if (!real[base + j] || !(yi > yj)) continue;
        let pw = weighting === 0 ? 1 : weighting === 1 ? Math.abs(yi - yj) : Math.abs(yi * yi - yj * yj);
        pw *= wi;
        const z = scale * (si - s[base + j]);
        let v: number;
        let g: number;
        if (kind === 0) {
          // softplus(−z) and its slope −sigmoid(−z) from one exp.
          const e = Math.exp(-Math.abs(z));
          v = (Math.max(-z, 0) + Math.log1p(e)) / lnBase;
          g = -(z >= 0 ? e / (1 + e) : 1 / (1 + e)) / lnBase;
        } else if (kind === 1) {
          v = Math.max(0, margin - z);
          g = margin - z > 0 || (o.hingeAt === 1 && margin - z === 0) ? -1 : 0;
        } else {
          const e = Math.exp(-Math.abs(z));
          const sig = z >= 0 ? e / (1 + e) : 1 / (1 + e); // sigmoid(−z)
          v = sig;
          g = -sig * (1 - sig);
        }
        sum += pw * v;
        wsum += pw;
        count++;
        if (pw !== 0) nz++;
        grad[base + i] += pw * g * scale;
        grad[base + j] -= pw * g * scale;
      }
    }
    red.sum[l] = sum;
    red.wsum[l] = wsum;
    red.count[l] = count;
    red.nz[l] = nz;
    red.items[l] = items;
  }
  const { loss, coef, perList } = red.finish(o.reduction, 'reduction');
  for (let k = 0; k < b * n; k++) grad[k] *= coef[Math.floor(k / n)];
  return { loss, perList, grad };
}

/**
 * TF-Ranking's softmax cross-entropy: target y⁺·w / Σ y⁺·w (item weights multiply the labels),
 * list weight Σ y⁺·w (× the list weight), ℓ = −Σ p log softmax(s/T).
 */
export function softmaxHost(h: HostBatch, o: { temperature: number; uniform: boolean; reduction: Reduction }): HostResult {
  const { b, n, s, y, real } = h;
  const w = h.listW ? null : h.w;
  const red = new Reducer(b);
  const logq = new Float64Array(b * n);
  const target = new Float64Array(b * n);
  const values = new Float64Array(b);
  const lw = new Float64Array(b);
  for (let l = 0; l < b; l++) {
    const base = l * n;
    let mx = -Infinity;
    let ysum = 0;
    let any = false;
    for (let i = 0; i < n; i++) {
      if (!real[base + i]) continue;
      any = true;
      red.items[l]++;
      mx = Math.max(mx, s[base + i] / o.temperature);
      const t = Math.max(y[base + i], 0) * (w ? w[base + i] : 1);
      target[base + i] = t;
      ysum += t;
    }
    if (!any) continue;
    let z = 0;
    for (let i = 0; i < n; i++) if (real[base + i]) z += Math.exp(s[base + i] / o.temperature - mx);
    const lse = mx + Math.log(z);
    let ce = 0;
    for (let i = 0; i < n; i++) {
      if (!real[base + i]) continue;
      logq[base + i] = s[base + i] / o.temperature - lse;
      target[base + i] = ysum > 0 ? target[base + i] / ysum : 0;
      ce -= target[base + i] * logq[base + i];
    }
    let weight = o.uniform ? (ysum > 0 ? 1 : 0) : ysum;
    if (h.listW) weight *= h.listW[l];
    values[l] = ce;
    lw[l] = weight;
    red.add(l, ce, weight);
  }
  const { loss, coef } = red.finish(o.reduction, 'value');
  const perList = new Float64Array(b);
  const grad = new Float64Array(b * n);
  for (let l = 0; l < b; l++) {
    perList[l] = lw[l] !== 0 ? values[l] : 0;
    const c = coef[l] * lw[l];
    if (c === 0) continue;
    const base = l * n;
    // d ce / d s_i = (softmax_i − p_i) / T.
    for (let i = 0; i < n; i++) if (real[base + i]) grad[base + i] = (c * (Math.exp(logq[base + i]) - target[base + i])) / o.temperature;
  }
  return { loss, perList, grad };
}

/** LambdaLoss discounts per list size: 1/log2(1 + r) (r 1-based) and the NDCG-Loss2 deltas. */
const lambdaConstants = new Map<number, { invD: Float64Array; delta: Float64Array }>();
function lambdaConst(n: number) {
  let c = lambdaConstants.get(n);
  if (!c) {
    const invD = new Float64Array(n + 2);
    for (let r = 1; r <= n + 1; r++) invD[r] = 1 / Math.log2(1 + r);
    const delta = new Float64Array(n);
    for (let d = 1; d < n; d++) delta[d] = Math.abs(invD[d] - invD[d + 1]);
    c = { invD, delta };
    if (lambdaConstants.size > 64) lambdaConstants.clear();
    lambdaConstants.set(n, c);
  }
  return c;
}

// The pairs of one call (list, the two items, d term / d (s_i − s_j) before the reduction's factor),
// in buffers reused between calls: an object per pair made the collector, not the arithmetic, the cost.
let pairScratch: { cap: number; list: Int32Array; i: Int32Array; j: Int32Array; g: Float64Array } | null = null;
function pairBuffers(cap: number) {
  if (pairScratch && pairScratch.cap >= cap) return pairScratch;
  const bufs = { cap, list: new Int32Array(cap), i: new Int32Array(cap), j: new Int32Array(cap), g: new Float64Array(cap) };
  // Kept for the next call up to 1M pairs (20 MB); larger batches allocate per call rather than hold it.
  if (cap <= 1 << 20) pairScratch = bufs;
  return bufs;
}

const LAMBDA_SCHEMES = ['ranknet', 'ranknet_weighted_by_gt_diff', 'ranknet_weighted_by_gt_diff_powed', 'ndcg_loss1', 'ndcg_loss2', 'lambdarank'];

/** allRank's lambdaLoss in predicted order (see lambda.ts for the schemes and options). */
export function lambdaHost(
  h: HostBatch,
  o: { scheme: string; k: number; sigma: number; mu: number; exp2: boolean; lnBase: number; tiesByIndex: boolean; clamp: number; reduction: Reduction },
): HostResult {
  const { b, n, s, y, real, w } = h;
  const { invD, delta } = lambdaConst(n);
  const red = new Reducer(b);
  // 0–5: LAMBDA_SCHEMES; 6: ndcg_loss2pp (the default).
  const scheme = LAMBDA_SCHEMES.includes(o.scheme) ? LAMBDA_SCHEMES.indexOf(o.scheme) : 6;
  const buf = pairBuffers(b * n * n);
  let count = 0;
  const lnClamp = o.clamp > 0 ? Math.log(o.clamp) : 0;
  const logSig = (z: number) => -softplus(-z);
  const G = new Float64Array(n);
  for (let l = 0; l < b; l++) {
    const base = l * n;
    const idx: number[] = [];
    for (let i = 0; i < n; i++) if (real[base + i]) idx.push(i);
    red.items[l] = idx.length;
    if (!idx.length) continue;
    idx.sort((a, c) => s[base + c] - s[base + a] || (o.tiesByIndex ? 0 : y[base + a] - y[base + c]) || a - c);
    const m = idx.length;
    const k = Math.min(o.k, m);
    // Gains 2^(y − ymax) − 2^(−ymax) (rescaled: the ratios to maxDCG are unchanged) or y; negatives 0.
    let ymax = 0;
    for (const i of idx) ymax = Math.max(ymax, Math.max(y[base + i], 0));
    const gain = (v: number) => (o.exp2 ? 2 ** (Math.max(v, 0) - ymax) - 2 ** -ymax : Math.max(v, 0));
    const ideal = idx.map((i) => gain(y[base + i])).sort((a, c) => c - a);
    let maxDcg = 0;
    for (let r = 0; r < k; r++) maxDcg += ideal[r] * invD[r + 1];
    for (let r = 0; r < m; r++) G[r] = maxDcg > 0 ? gain(y[base + idx[r]]) / maxDcg : 0;
    for (let p = 0; p < k; p++)
      for (let q = 0; q < k; q++) {
        const ip = base + idx[p];
        const iq = base + idx[q];
        if (scheme !== 3 && !(y[ip] > y[iq])) continue;
        let wt: number;
        const gd = Math.abs(G[p] - G[q]);
        if (scheme === 0) wt = 1;
        else if (scheme === 1) wt = Math.abs(Math.max(y[ip], 0) - Math.max(y[iq], 0));
        else if (scheme === 2) wt = Math.abs(Math.max(y[ip], 0) ** 2 - Math.max(y[iq], 0) ** 2);
        else if (scheme === 3) wt = G[p] * invD[p + 1];
        else if (scheme === 4) wt = delta[Math.abs(p - q)] * gd;
        else if (scheme === 5) wt = Math.abs(invD[p + 1] - invD[q + 1]) * gd;
        else wt = o.mu * delta[Math.abs(p - q)] * gd + Math.abs(invD[p + 1] - invD[q + 1]) * gd;
        const sw = w ? w[ip] : 1;
        const z = o.sigma * (s[ip] - s[iq]);
        const ls = logSig(z);
        let g: number; // d(term)/d(s_i − s_j), before the reduction's factor
        if (o.clamp > 0) {
          red.add(l, -Math.max(wt * Math.max(ls, lnClamp), lnClamp) / o.lnBase, sw);
          // Zero where either clamp binds (allRank's clamp passes no gradient there).
          g = ls > lnClamp && wt * Math.max(ls, lnClamp) > lnClamp ? ((-wt * sigmoid(-z) * o.sigma) / o.lnBase) * sw : 0;
        } else {
          red.add(l, -ls / o.lnBase, wt * sw);
          g = ((-sigmoid(-z) * o.sigma) / o.lnBase) * wt * sw;
        }
        buf.list[count] = l;
        buf.i[count] = ip;
        buf.j[count] = iq;
        buf.g[count] = g;
        count++;
      }
  }
  const { loss, coef, perList } = red.finish(o.reduction, 'reduction');
  const grad = new Float64Array(b * n);
  for (let t = 0; t < count; t++) {
    const c = coef[buf.list[t]];
    if (c === 0) continue;
    grad[buf.i[t]] += c * buf.g[t];
    grad[buf.j[t]] -= c * buf.g[t];
  }
  return { loss, perList, grad };
}

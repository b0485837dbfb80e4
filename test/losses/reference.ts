// Slow float64 reference implementations of every loss, written with plain loops over the real
// items of each list (padding is dropped first, so it cannot leak in). Independent of the tfjs code:
// no masking tricks, no rescaled gains, explicit sorting.
import { SeededRandom } from '../../src/utils/random.js';

export type Matrix = number[][];
export interface RefResult {
  loss: number;
  perList: number[];
}
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type RefLoss = (scores: Matrix, labels: Matrix, mask: Matrix, opts?: any) => RefResult;

interface Item {
  s: number;
  y: number;
  idx: number;
}

function realItems(scores: Matrix, labels: Matrix, mask: Matrix, b: number): Item[] {
  const out: Item[] = [];
  for (let i = 0; i < mask[b].length; i++) if (mask[b][i] > 0) out.push({ s: scores[b][i], y: labels[b][i], idx: i });
  return out;
}

const softplus = (x: number) => Math.max(x, 0) + Math.log1p(Math.exp(-Math.abs(x)));
const sigmoid = (x: number) => (x >= 0 ? 1 / (1 + Math.exp(-x)) : Math.exp(x) / (1 + Math.exp(x)));

function logSumExp(xs: number[]): number {
  const m = Math.max(...xs);
  let s = 0;
  for (const x of xs) s += Math.exp(x - m);
  return m + Math.log(s);
}

function logSoftmax(xs: number[]): number[] {
  const l = logSumExp(xs);
  return xs.map((x) => x - l);
}

/** Reduction of per-list values with weights; `nonEmpty` = lists with a real item. */
function reduce(perList: number[], weights: number[], nonEmpty: number, mode: string): number {
  let total = 0;
  let nz = 0;
  let wsum = 0;
  for (let b = 0; b < perList.length; b++) {
    total += perList[b] * weights[b];
    if (weights[b] > 0) nz++;
    wsum += weights[b];
  }
  switch (mode) {
    case 'sum':
      return total;
    case 'mean':
      return nonEmpty > 0 ? total / nonEmpty : 0;
    case 'sum_by_nonzero_weights':
      return nz > 0 ? total / nz : 0;
    case 'weighted_mean':
      return wsum > 0 ? total / wsum : 0;
  }
  throw new Error(`reduction ${mode}`);
}

function countNonEmpty(mask: Matrix): number {
  return mask.filter((row) => row.some((m) => m > 0)).length;
}

// ---------- pointwise ----------

function pointwise(scores: Matrix, labels: Matrix, mask: Matrix, reduction: string, itemLoss: (s: number, y: number) => number, norm?: 'max'): RefResult {
  const perList: number[] = [];
  let sum = 0;
  let count = 0;
  let lists = 0;
  for (let b = 0; b < scores.length; b++) {
    const items = realItems(scores, labels, mask, b);
    let ymax = -Infinity;
    for (const it of items) ymax = Math.max(ymax, it.y);
    let ls = 0;
    for (const it of items) {
      const y = norm === 'max' ? (ymax > 0 ? it.y / ymax : 0) : it.y;
      ls += itemLoss(it.s, y);
    }
    perList.push(items.length ? ls / items.length : 0);
    sum += ls;
    count += items.length;
    if (items.length) lists++;
  }
  const loss = reduction === 'sum' ? sum : reduction === 'items' ? (count ? sum / count : 0) : lists ? perList.reduce((a, c) => a + c, 0) / lists : 0;
  return { loss, perList };
}

export const refSigmoidCrossEntropy: RefLoss = (S, Y, M, o = {}) => {
  const t = o.temperature ?? 1;
  return pointwise(S, Y, M, o.reduction ?? 'items', (s, y) => softplus(s / t) - (y * s) / t, o.labelNormalization === 'max' ? 'max' : undefined);
};

export const refMSE: RefLoss = (S, Y, M, o = {}) => pointwise(S, Y, M, o.reduction ?? 'items', (s, y) => (s - y) ** 2);

// ---------- pairwise ----------

function pairwise(S: Matrix, Y: Matrix, M: Matrix, o: Record<string, unknown>, pairLoss: (d: number) => number): RefResult {
  const reduction = (o.reduction as string) ?? 'pairs';
  const wmode = o.labelDiffWeighted === true ? 'diff' : o.labelDiffWeighted || 'none';
  const perList: number[] = [];
  let tot = 0;
  let totPairs = 0;
  let totW = 0;
  let totItems = 0;
  let listsWithPairs = 0;
  let meanSum = 0;
  for (let b = 0; b < S.length; b++) {
    const items = realItems(S, Y, M, b);
    let ls = 0;
    let np = 0;
    let ws = 0;
    for (const a of items)
      for (const c of items) {
        if (!(a.y > c.y)) continue;
        const w = wmode === 'diff' ? Math.abs(a.y - c.y) : wmode === 'squared' ? Math.abs(a.y * a.y - c.y * c.y) : 1;
        ls += w * pairLoss(a.s - c.s);
        np++;
        ws += w;
      }
    tot += ls;
    totPairs += np;
    totW += ws;
    totItems += items.length;
    if (np) {
      listsWithPairs++;
      meanSum += ls / np;
    }
    if (reduction === 'sum') perList.push(ls);
    else if (reduction === 'weighted_pairs') perList.push(ws ? ls / ws : 0);
    else if (reduction === 'items') perList.push(items.length ? ls / items.length : 0);
    else perList.push(np ? ls / np : 0);
  }
  let loss: number;
  if (reduction === 'sum') loss = tot;
  else if (reduction === 'pairs') loss = totPairs ? tot / totPairs : 0;
  else if (reduction === 'weighted_pairs') loss = totW ? tot / totW : 0;
  else if (reduction === 'items') loss = totItems ? tot / totItems : 0;
  else loss = listsWithPairs ? meanSum / listsWithPairs : 0;
  return { loss, perList };
}

export const refRankNet: RefLoss = (S, Y, M, o = {}) => {
  const scale = (o.sigma ?? 1) / (o.temperature ?? 1);
  const lnb = Math.log(o.logBase ?? Math.E);
  return pairwise(S, Y, M, o, (d) => softplus(-scale * d) / lnb);
};

export const refPairwiseHinge: RefLoss = (S, Y, M, o = {}) => {
  const t = o.temperature ?? 1;
  const m = o.margin ?? 1;
  return pairwise(S, Y, M, o, (d) => Math.max(0, m - d / t));
};

export const refPairwiseSoftZeroOne: RefLoss = (S, Y, M, o = {}) => {
  const t = o.temperature ?? 1;
  return pairwise(S, Y, M, o, (d) => sigmoid(-d / t));
};

// ---------- listwise: softmax family ----------

function softmaxTarget(ys: number[], mode: string, ty: number): number[] {
  if (mode === 'softmax') return logSoftmax(ys.map((y) => y / ty)).map(Math.exp);
  const yp = ys.map((y) => Math.max(y, 0));
  const sum = yp.reduce((a, c) => a + c, 0);
  return yp.map((y) => (sum > 0 ? y / sum : 0));
}

export const refPoly1Softmax: RefLoss = (S, Y, M, o = {}) => {
  const t = o.temperature ?? 1;
  const eps = o.epsilon ?? 1;
  const perList: number[] = [];
  const weights: number[] = [];
  for (let b = 0; b < S.length; b++) {
    const items = realItems(S, Y, M, b);
    if (!items.length) {
      perList.push(0);
      weights.push(0);
      continue;
    }
    const p = softmaxTarget(
      items.map((i) => i.y),
      o.labelNormalization ?? 'linear',
      o.labelTemperature ?? 1,
    );
    const logq = logSoftmax(items.map((i) => i.s / t));
    let ce = 0;
    let pt = 0;
    for (let i = 0; i < items.length; i++) {
      ce -= p[i] * logq[i];
      pt += p[i] * Math.exp(logq[i]);
    }
    const labelSum = items.reduce((a, i) => a + Math.max(i.y, 0), 0);
    const psum = p.reduce((a, c) => a + c, 0);
    const w = o.listWeights === 'uniform' ? (psum > 0 ? 1 : 0) : labelSum;
    weights.push(w);
    perList.push(w > 0 ? ce + eps * (1 - pt) : 0);
  }
  return { loss: reduce(perList, weights, countNonEmpty(M), o.reduction ?? 'sum_by_nonzero_weights'), perList };
};

export const refSoftmaxCrossEntropy: RefLoss = (S, Y, M, o = {}) => refPoly1Softmax(S, Y, M, { ...o, epsilon: 0 });

export const refListNet: RefLoss = (S, Y, M, o = {}) => {
  const t = o.temperature ?? 1;
  const perList: number[] = [];
  const weights: number[] = [];
  for (let b = 0; b < S.length; b++) {
    const items = realItems(S, Y, M, b);
    const p = softmaxTarget(
      items.map((i) => i.y),
      'softmax',
      o.labelTemperature ?? 1,
    );
    const logq = items.length ? logSoftmax(items.map((i) => i.s / t)) : [];
    let ce = 0;
    for (let i = 0; i < items.length; i++) ce -= p[i] * logq[i];
    perList.push(ce);
    weights.push(items.length ? 1 : 0);
  }
  return { loss: reduce(perList, weights, countNonEmpty(M), o.reduction ?? 'mean'), perList };
};

// ---------- ListMLE ----------

function plackettLuce(S: Matrix, Y: Matrix, M: Matrix, o: Record<string, unknown>, weight: ((r: number, n: number) => number) | null): RefResult {
  const t = (o.temperature as number) ?? 1;
  const ties = (o.ties as string) ?? 'score';
  const perList: number[] = [];
  const weights: number[] = [];
  for (let b = 0; b < S.length; b++) {
    const items = realItems(S, Y, M, b);
    items.sort((a, c) => c.y - a.y || (ties === 'score' ? c.s - a.s : 0) || a.idx - c.idx);
    const s = items.map((i) => i.s / t);
    const n = s.length;
    let l = 0;
    for (let r = 0; r < n; r++) l += (logSumExp(s.slice(r)) - s[r]) * (weight ? weight(r, n) : 1);
    perList.push(l);
    weights.push(n ? 1 : 0);
  }
  return { loss: reduce(perList, weights, countNonEmpty(M), (o.reduction as string) ?? 'mean'), perList };
}

export const refListMLE: RefLoss = (S, Y, M, o = {}) => plackettLuce(S, Y, M, o, null);

export const refPListMLE: RefLoss = (S, Y, M, o = {}) => {
  const w =
    typeof o.positionWeights === 'function'
      ? o.positionWeights
      : (r: number, n: number) => {
          let z = 0;
          for (let i = 0; i < n; i++) z += 2 ** (n - i) - 1;
          return (2 ** (n - r) - 1) / z;
        };
  return plackettLuce(S, Y, M, o, w);
};

// ---------- NDCG helpers ----------

function gainOf(y: number, gain: string): number {
  const yp = Math.max(y, 0);
  return gain === 'linear' ? yp : 2 ** yp - 1;
}

function idealDcg(ys: number[], gain: string, k: number): number {
  const g = ys.map((y) => gainOf(y, gain)).sort((a, c) => c - a);
  let d = 0;
  for (let r = 0; r < Math.min(k, g.length); r++) d += g[r] / Math.log2(r + 2);
  return d;
}

// ---------- LambdaLoss ----------

export const refLambdaLoss: RefLoss = (S, Y, M, o = {}) => {
  const scheme = o.scheme ?? 'ndcg_loss2pp';
  const sigma = o.sigma ?? 1;
  const mu = o.mu ?? 10;
  const lnb = Math.log(o.logBase ?? 2);
  const gain = o.gain ?? 'exp2';
  const reduction = o.reduction ?? 'mean';
  const perList: number[] = [];
  let tot = 0;
  let totPairs = 0;
  let listMeans = 0;
  let listsWithPairs = 0;
  for (let b = 0; b < S.length; b++) {
    const items = realItems(S, Y, M, b);
    // Predicted order; equal scores: worse label first, then input index.
    items.sort((a, c) => c.s - a.s || a.y - c.y || a.idx - c.idx);
    const n = items.length;
    const k = Math.min(o.k ?? Infinity, n);
    const maxDcg = idealDcg(
      items.map((i) => i.y),
      gain,
      k,
    );
    const G = items.map((i) => (maxDcg > 0 ? gainOf(i.y, gain) / maxDcg : 0));
    const D = (pos1: number) => Math.log2(1 + pos1);
    let ls = 0;
    let np = 0;
    for (let i = 0; i < k; i++)
      for (let j = 0; j < k; j++) {
        if (scheme !== 'ndcg_loss1' && !(items[i].y > items[j].y)) continue;
        let w: number;
        const d = Math.abs(i - j);
        const delta = i === j ? 0 : Math.abs(1 / D(d) - 1 / D(d + 1));
        const lambdaRank = Math.abs(1 / D(i + 1) - 1 / D(j + 1)) * Math.abs(G[i] - G[j]);
        if (scheme === 'ranknet') w = 1;
        else if (scheme === 'ndcg_loss1') w = G[i] / D(i + 1);
        else if (scheme === 'ndcg_loss2') w = delta * Math.abs(G[i] - G[j]);
        else if (scheme === 'lambdarank') w = lambdaRank;
        else w = mu * delta * Math.abs(G[i] - G[j]) + lambdaRank;
        ls += (w * softplus(-sigma * (items[i].s - items[j].s))) / lnb;
        np++;
      }
    tot += ls;
    totPairs += np;
    if (np) {
      listsWithPairs++;
      listMeans += ls / np;
    }
    perList.push(reduction === 'sum' ? ls : np ? ls / np : 0);
  }
  const loss = reduction === 'sum' ? tot : reduction === 'mean' ? (totPairs ? tot / totPairs : 0) : listsWithPairs ? listMeans / listsWithPairs : 0;
  return { loss, perList };
};

// ---------- ApproxNDCG ----------

export const refApproxNDCG: RefLoss = (S, Y, M, o = {}) => {
  const alpha = (o.alpha ?? 1) / (o.temperature ?? 1);
  const gain = o.gain ?? 'exp2';
  const perList: number[] = [];
  const weights: number[] = [];
  for (let b = 0; b < S.length; b++) {
    const items = realItems(S, Y, M, b);
    const maxDcg = idealDcg(
      items.map((i) => i.y),
      gain,
      Infinity,
    );
    let ndcg = 0;
    for (const a of items) {
      let pi = 1;
      for (const c of items) if (c !== a) pi += sigmoid(alpha * (c.s - a.s));
      if (maxDcg > 0) ndcg += gainOf(a.y, gain) / maxDcg / Math.log2(1 + pi);
    }
    perList.push(-ndcg);
    weights.push(items.length ? 1 : 0);
  }
  return { loss: reduce(perList, weights, countNonEmpty(M), o.reduction ?? 'mean'), perList };
};

// ---------- NeuralNDCG ----------

export const refNeuralNDCG: RefLoss = (S, Y, M, o = {}) => {
  const tau = o.temperature ?? 1;
  const gain = o.gain ?? 'exp2';
  const maxIter = o.sinkhornIterations ?? 50;
  const tol = o.sinkhornTolerance ?? 1e-6;
  const perList: number[] = [];
  const weights: number[] = [];
  for (let b = 0; b < S.length; b++) {
    const items = realItems(S, Y, M, b);
    const m = items.length;
    const k = Math.min(o.k ?? Infinity, m);
    // NeuralSort rows r = 0..m-1.
    let P: number[][] = [];
    for (let r = 0; r < m; r++) {
      const logits = items.map((a) => ((m - 1 - 2 * r) * a.s - items.reduce((acc, c) => acc + Math.abs(a.s - c.s), 0)) / tau);
      P.push(logSoftmax(logits).map(Math.exp));
    }
    for (let it = 0; it < maxIter && m > 0; it++) {
      const col = Array.from({ length: m }, (_, i) => Math.max(P.reduce((acc, row) => acc + row[i], 0), 1e-10));
      P = P.map((row) => row.map((x, i) => x / col[i]));
      P = P.map((row) => {
        const rs = Math.max(
          row.reduce((a, c) => a + c, 0),
          1e-10,
        );
        return row.map((x) => x / rs);
      });
      let dev = 0;
      for (let r = 0; r < m; r++) dev = Math.max(dev, Math.abs(P[r].reduce((a, c) => a + c, 0) - 1));
      for (let i = 0; i < m; i++) dev = Math.max(dev, Math.abs(P.reduce((a, row) => a + row[i], 0) - 1));
      if (tol > 0 && dev < tol) break;
    }
    const g = items.map((a) => gainOf(a.y, gain));
    let dcg = 0;
    for (let r = 0; r < k; r++) {
      let sg = 0;
      for (let i = 0; i < m; i++) sg += P[r][i] * g[i];
      dcg += sg / Math.log2(r + 2);
    }
    const idcg = idealDcg(
      items.map((i) => i.y),
      gain,
      k,
    );
    perList.push(idcg > 0 ? -dcg / idcg : 0);
    weights.push(idcg > 0 ? 1 : 0);
  }
  return { loss: reduce(perList, weights, countNonEmpty(M), o.reduction ?? 'sum_by_nonzero_weights'), perList };
};

// ---------- distillation ----------

export const refKLDivergence: RefLoss = (S, Y, M, o = {}) => {
  const t = o.temperature ?? 1;
  const tt = o.teacherTemperature ?? t;
  const factor = o.scaleByTemperatureSquared === false ? 1 : t * t;
  const perList: number[] = [];
  const weights: number[] = [];
  for (let b = 0; b < S.length; b++) {
    const items = realItems(S, Y, M, b);
    let kl = 0;
    if (items.length) {
      const logp = logSoftmax(items.map((i) => i.y / tt));
      const logq = logSoftmax(items.map((i) => i.s / t));
      for (let i = 0; i < items.length; i++) kl += Math.exp(logp[i]) * (logp[i] - logq[i]);
    }
    perList.push(kl * factor);
    weights.push(items.length ? 1 : 0);
  }
  return { loss: reduce(perList, weights, countNonEmpty(M), o.reduction ?? 'mean'), perList };
};

export const refMarginMSE: RefLoss = (S, Y, M, o = {}) => {
  const mode = o.pairs ?? 'all';
  const reduction = o.reduction ?? 'pairs';
  const perList: number[] = [];
  let tot = 0;
  let totPairs = 0;
  let listMeans = 0;
  let lists = 0;
  for (let b = 0; b < S.length; b++) {
    const items = realItems(S, Y, M, b);
    let ls = 0;
    let np = 0;
    for (let i = 0; i < items.length; i++)
      for (let j = 0; j < items.length; j++) {
        const keep = mode === 'all' ? i < j : mode === 'preferred' ? items[i].y > items[j].y : i === 0 && j > 0;
        if (!keep) continue;
        ls += (items[i].s - items[j].s - (items[i].y - items[j].y)) ** 2;
        np++;
      }
    tot += ls;
    totPairs += np;
    if (np) {
      lists++;
      listMeans += ls / np;
    }
    perList.push(reduction === 'sum' ? ls : np ? ls / np : 0);
  }
  const loss = reduction === 'sum' ? tot : reduction === 'pairs' ? (totPairs ? tot / totPairs : 0) : lists ? listMeans / lists : 0;
  return { loss, perList };
};

/** Central finite differences of a reference loss w.r.t. every score (padded ones included). */
export function refGradient(ref: RefLoss, S: Matrix, Y: Matrix, M: Matrix, opts: unknown, h = 1e-6): Matrix {
  return S.map((row, b) =>
    row.map((_, i) => {
      const plus = S.map((r) => [...r]);
      const minus = S.map((r) => [...r]);
      const step = h * (Number.isFinite(S[b][i]) ? Math.max(1, Math.abs(S[b][i])) : 1);
      plus[b][i] += step;
      minus[b][i] -= step;
      return (ref(plus, Y, M, opts).loss - ref(minus, Y, M, opts).loss) / (2 * step);
    }),
  );
}

// ---------- generic reductions (reduction.ts) and sample weights ----------

/** A present entry of an unreduced loss: value ℓ and weight w. */
interface Entry {
  l: number;
  w: number;
}

const CANONICAL: Record<string, Record<string, string>> = {
  list: { mean: 'SUM_OVER_BATCH_SIZE', sum: 'SUM', sum_by_nonzero_weights: 'SUM_BY_NONZERO_WEIGHTS', weighted_mean: 'MEAN', batchmean: 'SUM_OVER_BATCH_SIZE' },
  pair: { pairs: 'SUM_OVER_BATCH_SIZE', weighted_pairs: 'MEAN', lists: 'LIST_MEAN', items: 'SUM_OVER_ITEMS', sum: 'SUM', mean: 'SUM_OVER_BATCH_SIZE' },
  item: { items: 'SUM_OVER_BATCH_SIZE', lists: 'LIST_MEAN', sum: 'SUM' },
};

/**
 * Reduces per-list entries as src/losses/reduction.ts documents it, written independently: `level`
 * 'list' (one entry per non-empty list), 'item' or 'pair'. `items[b]` = real items of list b.
 */
export function reduceEntries(lists: Entry[][], items: number[], reduction: string, level: 'list' | 'item' | 'pair', perListMode: 'reduction' | 'weighted_mean' = 'reduction'): RefResult {
  const r = CANONICAL[level][reduction] ?? reduction;
  let total = 0;
  let count = 0;
  let wsum = 0;
  let nz = 0;
  let nItems = 0;
  let listMeanSum = 0;
  let listMeanCount = 0;
  const perList: number[] = [];
  lists.forEach((es, b) => {
    let s = 0;
    let ws = 0;
    let z = 0;
    for (const e of es) {
      s += e.w * e.l;
      ws += e.w;
      if (e.w !== 0) z++;
    }
    total += s;
    count += es.length;
    wsum += ws;
    nz += z;
    nItems += items[b];
    if (es.length) {
      listMeanSum += s / es.length;
      listMeanCount++;
    }
    if (level === 'list') perList.push(es.length && es[0].w !== 0 ? es[0].l : 0);
    else if (perListMode === 'weighted_mean' || r === 'MEAN') perList.push(ws !== 0 ? s / ws : 0);
    else if (r === 'SUM') perList.push(s);
    else if (r === 'SUM_OVER_ITEMS') perList.push(items[b] ? s / items[b] : 0);
    else if (r === 'SUM_BY_NONZERO_WEIGHTS') perList.push(z ? s / z : 0);
    else perList.push(es.length ? s / es.length : 0);
  });
  const div = (a: number, c: number) => (c > 0 ? a / c : 0);
  const loss =
    r === 'SUM' ? total : r === 'MEAN' ? div(total, wsum) : r === 'SUM_OVER_BATCH_SIZE' ? div(total, count) : r === 'SUM_BY_NONZERO_WEIGHTS' ? div(total, nz) : r === 'SUM_OVER_ITEMS' ? div(total, nItems) : div(listMeanSum, listMeanCount);
  return { loss, perList };
}

/** Sample weights of the test cases: per item a function of the label, per list of the item count. */
export function itemWeightOf(y: number): number {
  return 0.5 + 0.25 * (Math.floor(Math.abs(y) * 2) % 3);
}
export function listWeightOf(realItems: number): number {
  return 0.5 + 0.5 * (realItems % 3);
}
export function sampleWeights(kind: 'item' | 'list', Y: Matrix, M: Matrix): number[] | Matrix {
  if (kind === 'item') return Y.map((row) => row.map(itemWeightOf));
  return M.map((row) => listWeightOf(row.filter((m) => m > 0).length));
}

/** The list weight TF-Ranking's listwise losses derive from per-item weights: Σ w·y⁺ / Σ y⁺. */
function listWeightFromItems(items: Item[], w: (it: Item) => number, rel: (it: Item) => number): number {
  let a = 0;
  let c = 0;
  for (const it of items) {
    a += w(it) * Math.max(rel(it), 0);
    c += Math.max(rel(it), 0);
  }
  return c > 0 ? a / c : 0;
}

function weightsOf(o: Record<string, unknown>, b: number) {
  const W = o.__weights as number[] | Matrix | undefined;
  const kind = o.__weightKind as 'item' | 'list' | undefined;
  return {
    item: (it: Item) => (!W ? 1 : kind === 'item' ? (W as Matrix)[b][it.idx] : (W as number[])[b]),
    list: (items: Item[], rel: (it: Item) => number = (it) => it.y) => (!W ? 1 : kind === 'list' ? (W as number[])[b] : listWeightFromItems(items, (it) => (W as Matrix)[b][it.idx], rel)),
  };
}

// ---------- lambda weights (TF-Ranking), written with loops ----------

type LW = { type: string; topn?: number; gainFn?: string; rankDiscountFn?: string; normalized?: boolean; smoothFraction?: number; listSizeScaling?: string };

function gainFnOf(name: string | undefined, dflt: string): (y: number) => number {
  return (name ?? dflt) === 'identity' ? (y) => Math.max(y, 0) : (y) => 2 ** Math.max(y, 0) - 1;
}
function discFnOf(name: string | undefined, dflt: string): (r: number) => number {
  return (name ?? dflt) === 'inverse' ? (r) => 1 / r : (r) => 1 / Math.log2(1 + r);
}
const LW_DEFAULTS: Record<string, { gain: string; disc: string; normalized: boolean }> = {
  dcg: { gain: 'identity', disc: 'inverse', normalized: false },
  ndcg: { gain: 'pow_minus_1', disc: 'log2_inverse', normalized: true },
  ndcg_v2: { gain: 'pow_minus_1', disc: 'log2_inverse', normalized: true },
  yeti_dcg: { gain: 'pow_minus_1', disc: 'log2_inverse', normalized: false },
  listmle: { gain: 'identity', disc: 'log2_inverse', normalized: false },
};

/** 1-based ranks by score, ties: worse label first, then index. */
function ranksOf(items: Item[]): Map<Item, number> {
  const sorted = [...items].sort((a, c) => c.s - a.s || a.y - c.y || a.idx - c.idx);
  return new Map(sorted.map((it, r) => [it, r + 1]));
}

function dcgGain(lw: LW, items: Item[]): (it: Item) => number {
  const d = LW_DEFAULTS[lw.type];
  const gain = gainFnOf(lw.gainFn, d.gain);
  const disc = discFnOf(lw.rankDiscountFn, d.disc);
  const normalized = lw.type === 'ndcg' || lw.type === 'ndcg_v2' ? true : (lw.normalized ?? d.normalized);
  if (!normalized) return (it) => gain(it.y);
  const ideal = items.map((it) => gain(it.y)).sort((a, c) => c - a);
  let max = 0;
  ideal.forEach((g, r) => {
    if (r + 1 <= (lw.topn ?? Infinity)) max += g * disc(r + 1);
  });
  return (it) => (max > 0 ? gain(it.y) / max : 0);
}

/** TF-Ranking pair_weights for pair (a, c) of real items. */
export function refPairLambdaWeight(lw: LW, items: Item[], ranks: Map<Item, number>, n: number, a: Item, c: Item): number {
  if (lw.type === 'label_diff') return Math.abs(a.y - c.y);
  if (lw.type === 'precision') {
    const pos = (it: Item) => (it.y >= 1 ? 1 : 0);
    const top = (it: Item) => (ranks.get(it)! <= lw.topn! ? 1 : 0);
    return Math.abs(pos(a) - pos(c)) * (top(a) !== top(c) ? 1 : 0);
  }
  const d = LW_DEFAULTS[lw.type];
  const disc = discFnOf(lw.rankDiscountFn, d.disc);
  const g = dcgGain(lw, items);
  const ri = ranks.get(a)!;
  const rj = ranks.get(c)!;
  const topn = lw.topn ?? n;
  const diff = Math.abs(ri - rj);
  let discount: number;
  if (lw.type === 'ndcg_v2' || lw.type === 'yeti_dcg') {
    const mx = Math.max(ri, rj);
    const mult = mx > topn ? 1 / (1 - disc(mx)) : 1;
    discount = diff > 0 ? Math.abs(disc(diff) - disc(diff + 1)) * mult : 0;
    if (lw.type === 'yeti_dcg' && diff !== 1) discount = 0;
  } else {
    const inTop = ri <= topn || rj <= topn;
    const u = diff > 0 && inTop ? Math.abs(disc(diff) - disc(diff + 1)) : 0;
    const v = Math.abs((ri <= topn ? disc(ri) : 0) - (rj <= topn ? disc(rj) : 0));
    const sf = lw.smoothFraction ?? 0;
    discount = ((1 - sf) * u + sf * v) * (inTop ? 1 : 0);
  }
  const scale = lw.listSizeScaling === 'none' ? 1 : lw.listSizeScaling === 'padded' ? n : items.length;
  return Math.abs(g(a) - g(c)) * discount * scale;
}

/** Pairwise losses with sample weights and lambda weights (TF-Ranking semantics). */
export function refPairwiseGeneral(S: Matrix, Y: Matrix, M: Matrix, o: Record<string, unknown>, pairLoss: (d: number) => number): RefResult {
  const wmode = o.labelDiffWeighted === true ? 'diff' : o.labelDiffWeighted || 'none';
  const lw = o.lambdaWeight as LW | undefined;
  const lists: Entry[][] = [];
  const items: number[] = [];
  for (let b = 0; b < S.length; b++) {
    const its = realItems(S, Y, M, b);
    const ranks = ranksOf(its);
    const ws = weightsOf(o, b);
    const es: Entry[] = [];
    for (const a of its)
      for (const c of its) {
        if (!(a.y > c.y)) continue;
        let w = wmode === 'diff' ? Math.abs(a.y - c.y) : wmode === 'squared' ? Math.abs(a.y * a.y - c.y * c.y) : 1;
        if (lw) w *= refPairLambdaWeight(lw, its, ranks, S[b].length, a, c);
        w *= ws.item(a);
        es.push({ l: pairLoss(a.s - c.s), w });
      }
    lists.push(es);
    items.push(its.length);
  }
  return reduceEntries(lists, items, (o.reduction as string) ?? 'pairs', 'pair');
}

export const refRankNetGeneral: RefLoss = (S, Y, M, o = {}) => {
  const scale = (o.sigma ?? 1) / (o.temperature ?? 1);
  const lnb = Math.log(o.logBase ?? Math.E);
  return refPairwiseGeneral(S, Y, M, o, (d) => softplus(-scale * d) / lnb);
};

export const refPairwiseHingeGeneral: RefLoss = (S, Y, M, o = {}) => {
  const t = o.temperature ?? 1;
  const m = o.margin ?? 1;
  return refPairwiseGeneral(S, Y, M, o, (d) => Math.max(0, m - d / t));
};

/** Pointwise losses with item weights. */
export function refPointwiseGeneral(S: Matrix, Y: Matrix, M: Matrix, o: Record<string, unknown>, itemLoss: (s: number, y: number) => number): RefResult {
  const lists: Entry[][] = [];
  const items: number[] = [];
  for (let b = 0; b < S.length; b++) {
    const its = realItems(S, Y, M, b);
    const ws = weightsOf(o, b);
    lists.push(its.map((it) => ({ l: itemLoss(it.s, it.y), w: ws.item(it) })));
    items.push(its.length);
  }
  return reduceEntries(lists, items, (o.reduction as string) ?? 'items', 'item', 'weighted_mean');
}

export const refMSEGeneral: RefLoss = (S, Y, M, o = {}) => refPointwiseGeneral(S, Y, M, o, (s, y) => (s - y) ** 2);

export const refMonoT5: RefLoss = (S, Y, M, o = {}) =>
  refPointwiseGeneral(S, Y, M, o, (s, y) => {
    const logp = o.scores === 'logit' ? -softplus(-s) : s;
    const log1mp = o.scores === 'logit' ? -softplus(s) : Math.log(Math.max(-Math.expm1(s), 1e-12));
    return y > (o.relevantAbove ?? 0) ? -logp : -log1mp;
  });

/** A list-level loss: one entry (value, list weight) per non-empty list, then the reduction. */
function perListRef(S: Matrix, Y: Matrix, M: Matrix, reduction: string, entry: (its: Item[], b: number) => Entry): RefResult {
  const lists: Entry[][] = [];
  const items: number[] = [];
  for (let b = 0; b < S.length; b++) {
    const its = realItems(S, Y, M, b);
    items.push(its.length);
    lists.push(its.length ? [entry(its, b)] : []);
  }
  return reduceEntries(lists, items, reduction, 'list');
}

/** Softmax CE (TF-Ranking) with sample weights and a DCG lambda weight. */
export const refSoftmaxGeneral: RefLoss = (S, Y, M, o = {}) => {
  const t = o.temperature ?? 1;
  const lw = o.lambdaWeight as LW | undefined;
  return perListRef(S, Y, M, o.reduction ?? 'sum_by_nonzero_weights', (its, b) => {
    const ws = weightsOf(o, b);
    let y = its.map((it) => Math.max(it.y, 0));
    if (lw) {
      const ranks = ranksOf(its.map((it) => ({ ...it, s: it.s / t })));
      const byIdx = new Map([...ranks].map(([k, v]) => [k.idx, v]));
      const g = dcgGain(lw, its);
      const disc = discFnOf(lw.rankDiscountFn, LW_DEFAULTS[lw.type].disc);
      y = its.map((it) => g(it) * disc(byIdx.get(it.idx)!));
    }
    if (o.__weightKind === 'item') y = y.map((v, i) => v * ws.item(its[i]));
    const sum = y.reduce((a, c) => a + c, 0);
    const logq = logSoftmax(its.map((it) => it.s / t));
    let ce = 0;
    for (let i = 0; i < its.length; i++) if (sum > 0) ce -= (y[i] / sum) * logq[i];
    return { l: ce, w: sum * (o.__weightKind === 'list' ? ws.list(its) : 1) };
  });
};

/** ListNet with allRank's ε and list weights. */
export const refListNetGeneral: RefLoss = (S, Y, M, o = {}) => {
  const t = o.temperature ?? 1;
  const eps = o.logEpsilon ?? 0;
  return perListRef(S, Y, M, o.reduction ?? 'mean', (its, b) => {
    const p = softmaxTarget(
      its.map((i) => i.y),
      'softmax',
      o.labelTemperature ?? 1,
    );
    const q = logSoftmax(its.map((i) => i.s / t)).map(Math.exp);
    let ce = 0;
    for (let i = 0; i < its.length; i++) ce -= p[i] * Math.log(q[i] + eps);
    const pm = new Map(its.map((it, i) => [it, p[i]]));
    return { l: ce, w: weightsOf(o, b).list(its, (it) => pm.get(it)!) };
  });
};

/** ListMLE with allRank's ε, TF-Ranking's ListMLELambdaWeight and list weights (ties by score). */
export const refListMLEGeneral: RefLoss = (S, Y, M, o = {}) => {
  const t = o.temperature ?? 1;
  const eps = o.logEpsilon ?? 0;
  const lw = o.lambdaWeight as LW | undefined;
  return perListRef(S, Y, M, o.reduction ?? 'mean', (its, b) => {
    its.sort((a, c) => c.y - a.y || c.s - a.s || a.idx - c.idx);
    const s = its.map((i) => i.s / t);
    const m = Math.max(...s);
    let l = 0;
    for (let r = 0; r < s.length; r++) {
      let term: number;
      if (eps > 0) {
        let cs = 0;
        for (let j = r; j < s.length; j++) cs += Math.exp(s[j] - m);
        term = Math.log(cs + eps) - (s[r] - m);
      } else term = logSumExp(s.slice(r)) - s[r];
      l += term * (lw ? discFnOf(lw.rankDiscountFn, 'log2_inverse')(r + 1) : 1);
    }
    return { l, w: weightsOf(o, b).list(its) };
  });
};

/** TF-Ranking UniqueSoftmaxLoss. */
export const refUniqueSoftmax: RefLoss = (S, Y, M, o = {}) => {
  const t = o.temperature ?? 1;
  return perListRef(S, Y, M, o.reduction ?? 'mean', (its, b) => {
    let l = 0;
    for (const a of its) {
      const xs = [a.s / t, ...its.filter((c) => c.y < a.y).map((c) => c.s / t)];
      l += (2 ** Math.max(a.y, 0) - 1) * (logSumExp(xs) - a.s / t);
    }
    return { l, w: weightsOf(o, b).list(its) };
  });
};

/** KL divergence with any reduction (torch kl_div names) and list weights. */
export const refKLGeneral: RefLoss = (S, Y, M, o = {}) => {
  const t = o.temperature ?? 1;
  return perListRef(S, Y, M, o.reduction ?? 'mean', (its, b) => {
    const logp = logSoftmax(its.map((i) => i.y / t));
    const logq = logSoftmax(its.map((i) => i.s / t));
    let kl = 0;
    for (let i = 0; i < its.length; i++) kl += Math.exp(logp[i]) * (logp[i] - logq[i]);
    const pm = new Map(its.map((it, i) => [it, Math.exp(logp[i])]));
    return { l: kl * t * t, w: weightsOf(o, b).list(its, (it) => pm.get(it)!) };
  });
};

/** LambdaLoss with allRank's GT-difference schemes, σ clamp and index tie order (ranknet-type schemes). */
export const refLambdaLossGeneral: RefLoss = (S, Y, M, o = {}) => {
  const scheme = o.scheme ?? 'ranknet';
  const sigma = o.sigma ?? 1;
  const lnb = Math.log(o.logBase ?? 2);
  const clamp = o.sigmoidClamp ?? 0;
  const lists: Entry[][] = [];
  const items: number[] = [];
  for (let b = 0; b < S.length; b++) {
    const its = realItems(S, Y, M, b);
    items.push(its.length);
    its.sort((a, c) => c.s - a.s || (o.ties === 'index' ? 0 : a.y - c.y) || a.idx - c.idx);
    const k = Math.min(o.k ?? Infinity, its.length);
    const ws = weightsOf(o, b);
    const es: Entry[] = [];
    for (let i = 0; i < k; i++)
      for (let j = 0; j < k; j++) {
        const a = its[i];
        const c = its[j];
        if (!(a.y > c.y)) continue;
        const ya = Math.max(a.y, 0);
        const yc = Math.max(c.y, 0);
        const w = scheme === 'ranknet_weighted_by_gt_diff' ? Math.abs(ya - yc) : scheme === 'ranknet_weighted_by_gt_diff_powed' ? Math.abs(ya * ya - yc * yc) : 1;
        const logSig = -softplus(-sigma * (a.s - c.s));
        if (clamp > 0) es.push({ l: -Math.max(w * Math.max(logSig, Math.log(clamp)), Math.log(clamp)) / lnb, w: ws.item(a) });
        else es.push({ l: -logSig / lnb, w: w * ws.item(a) });
      }
    lists.push(es);
  }
  return reduceEntries(lists, items, o.reduction ?? 'mean', 'pair');
};

/**
 * TF-Ranking's Gumbel sampler in front of a reference loss: every list repeated sampleSize times with
 * scores log(softmax((s + g)/T_g) + 1e-20), g from the same seeded generator as the loss's first call
 * (mulberry32, row-major [list, sample, item]); perList = the mean of a list's samples.
 */
export function refGumbel(base: RefLoss, extra: Record<string, unknown>): RefLoss {
  return (S, Y, M, o = {}) => {
    const g = o.gumbel ?? {};
    const A = g.sampleSize ?? 8;
    const T = g.temperature ?? 1;
    const rng = new SeededRandom(g.seed ?? 0);
    const S2: Matrix = [];
    const Y2: Matrix = [];
    const M2: Matrix = [];
    for (let b = 0; b < S.length; b++)
      for (let a = 0; a < A; a++) {
        const real = M[b].map((m) => m > 0);
        // Drawn for real items only, in order (src/losses/listwise.ts gumbelNoise).
        const noise = real.map((r) => (r ? Math.fround(-Math.log(-Math.log(rng.next() + 1e-20) + 1e-20)) : 0));
        const z = S[b].map((s, i) => (real[i] ? (s + noise[i]) / T : -Infinity));
        const mx = Math.max(...z.filter((_, i) => real[i]), -1e30);
        const sum = z.reduce((acc, v, i) => acc + (real[i] ? Math.exp(v - mx) : 0), 0);
        S2.push(z.map((v, i) => (real[i] ? Math.log(Math.exp(v - mx) / sum + 1e-20) : 0)));
        Y2.push(Y[b]);
        M2.push(M[b]);
      }
    const { gumbel: _g, ...rest } = o;
    const r = base(S2, Y2, M2, { ...rest, ...extra });
    const perList = S.map((_, b) => r.perList.slice(b * A, (b + 1) * A).reduce((x, y) => x + y, 0) / A);
    return { loss: r.loss, perList };
  };
}

// Slow float64 reference implementations of every loss, written with plain loops over the real
// items of each list (padding is dropped first, so it cannot leak in). Independent of the tfjs code:
// no masking tricks, no rescaled gains, explicit sorting.

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

// TF-Ranking's lambda weights (losses_impl.py: LabelDiffLambdaWeight, DCGLambdaWeight,
// NDCGLambdaWeight, DCGLambdaWeightV2 = NDCGLambdaWeightV2, YetiDCGLambdaWeight,
// PrecisionLambdaWeight, ListMLELambdaWeight): objects that re-weight the pairs of a pairwise loss,
// the labels of the softmax loss, or the positions of ListMLE, by what swapping items would change
// in a ranking metric. Injected with the `lambdaWeight` option of those losses, either as an object
// made here or as a JSON spec ({ type: 'ndcg', topn: 10, ... }) from a config file.
import * as tf from '@tensorflow/tfjs-core';
import { InputError } from '../utils/errors.js';
import { applyPermutation, listLengths, maskedLabels, pairDiff, scaledGains, sortPermutation, sortPositions, validPairs, type SortKey } from './utils.js';

/** A gain function of labels: 'identity' y, 'pow_minus_1' 2^y − 1, or a tensor function. */
export type GainFn = 'identity' | 'pow_minus_1' | ((labels: tf.Tensor) => tf.Tensor);
/** A discount function of 1-based ranks: 'inverse' 1/r, 'log2_inverse' 1/log2(1 + r), or a tensor function. */
export type RankDiscountFn = 'inverse' | 'log2_inverse' | ((ranks: tf.Tensor) => tf.Tensor);

export interface LambdaWeight {
  readonly type: LambdaWeightType;
  /**
   * Pair weights [lists, n, n] from labels (padding 0) and 1-based ranks by score; 0 for pairs with
   * a padded item. Applied to the pairs a pairwise loss is defined on (label_i > label_j).
   */
  pairWeights(labels: tf.Tensor2D, ranks: tf.Tensor2D, mask: tf.Tensor2D): tf.Tensor3D;
  /** Item weights [lists, n] (DCG: gain × discount; ListMLE: discount), where the loss uses them. */
  individualWeights?(labels: tf.Tensor2D, ranks: tf.Tensor2D, mask: tf.Tensor2D): tf.Tensor2D;
}

export type LambdaWeightType = 'label_diff' | 'dcg' | 'ndcg' | 'ndcg_v2' | 'yeti_dcg' | 'precision' | 'listmle';

/**
 * How the DCG-family pair weights are scaled up (TF-Ranking multiplies them by the list size so the
 * loss keeps the magnitude of a plain pairwise loss): 'real' (default) by the number of real items
 * of the list, 'padded' by the padded list size as TF-Ranking does (so it changes with padding),
 * 'none' not at all.
 */
export type ListSizeScaling = 'real' | 'padded' | 'none';

export interface DcgLambdaWeightOptions {
  /** Only pairs with an item in the top n count (default: all). */
  topn?: number;
  gainFn?: GainFn;
  rankDiscountFn?: RankDiscountFn;
  /** Divide gains by the list's max DCG (NDCG). */
  normalized?: boolean;
  /** Mix of LambdaLoss' relative-rank discount (0) and LambdaMART's absolute one (1). Default 0. */
  smoothFraction?: number;
  listSizeScaling?: ListSizeScaling;
}

/** A JSON description of a lambda weight, for config files. */
export type LambdaWeightSpec =
  | { type: 'label_diff' }
  | ({ type: 'dcg' | 'ndcg' | 'ndcg_v2' | 'yeti_dcg' } & Omit<DcgLambdaWeightOptions, 'gainFn' | 'rankDiscountFn'> & { gainFn?: 'identity' | 'pow_minus_1'; rankDiscountFn?: 'inverse' | 'log2_inverse' })
  | { type: 'precision'; topn: number }
  | { type: 'listmle'; rankDiscountFn?: 'inverse' | 'log2_inverse' };

function gainOf(fn: GainFn, y: tf.Tensor): tf.Tensor {
  if (fn === 'identity') return y;
  if (fn === 'pow_minus_1') return tf.sub(tf.pow(2, y), 1);
  return fn(y);
}

function discountOf(fn: RankDiscountFn, r: tf.Tensor): tf.Tensor {
  if (fn === 'inverse') return tf.div(1, r);
  if (fn === 'log2_inverse') return tf.div(Math.LN2, tf.log1p(r));
  return fn(r);
}

/**
 * 1-based ranks of the items by score (higher first), padded items after the real ones; equal scores
 * are ordered worse label first, then by index (TF-Ranking breaks them at random). No gradient.
 */
export function scoreRanks(scores: tf.Tensor2D, labels: tf.Tensor2D, mask: tf.Tensor2D, ties: 'label' | 'index' = 'label'): tf.Tensor2D {
  const keys: SortKey[] = [{ x: scores, descending: true }];
  if (ties === 'label') keys.push({ x: maskedLabels(labels, mask), descending: false });
  return tf.add(sortPositions(keys, mask), 1) as tf.Tensor2D;
}

/**
 * 1 / max DCG@topn per list [lists, 1] (TF-Ranking inverse_max_dcg): labels sorted descending,
 * Σ gain(y_(r)) · discount(r) over real positions r ≤ topn; 0 when that is 0.
 */
export function inverseMaxDcg(
  labels: tf.Tensor2D,
  mask: tf.Tensor2D,
  opts: { gainFn?: GainFn; rankDiscountFn?: RankDiscountFn; topn?: number } = {},
): tf.Tensor2D {
  return tf.tidy(() => {
    const n = labels.shape[1];
    const y = tf.relu(maskedLabels(labels, mask)) as tf.Tensor2D;
    const p = sortPermutation([{ x: y, descending: true }], mask);
    const sorted = applyPermutation(p, tf.where(tf.greater(mask, 0), gainOf(opts.gainFn ?? 'pow_minus_1', y), tf.zerosLike(y)) as tf.Tensor2D);
    const r = tf.range(1, n + 1, 1, 'float32');
    const keep = tf.logicalAnd(tf.less(tf.expandDims(tf.range(0, n, 1, 'float32'), 0), tf.expandDims(listLengths(mask), 1)), tf.lessEqual(r, opts.topn ?? n));
    const dcg = tf.sum(tf.where(keep, tf.mul(sorted, discountOf(opts.rankDiscountFn ?? 'log2_inverse', r)), tf.zerosLike(sorted)), 1, true);
    const pos = tf.greater(dcg, 0);
    return tf.where(pos, tf.div(1, tf.where(pos, dcg, tf.onesLike(dcg))), tf.zerosLike(dcg)) as tf.Tensor2D;
  });
}

/** Gains (× 1/maxDCG when normalized); exp2 gains normalised without overflow for large labels. */
function dcgGains(labels: tf.Tensor2D, mask: tf.Tensor2D, o: Required<Pick<DcgLambdaWeightOptions, 'gainFn' | 'rankDiscountFn' | 'normalized'>> & { topn?: number }): tf.Tensor2D {
  const y = tf.relu(maskedLabels(labels, mask)) as tf.Tensor2D;
  if (o.normalized && o.gainFn === 'pow_minus_1') {
    // (2^y − 1)/maxDCG = (2^(y−m) − 2^(−m)) / maxDCG' with every gain scaled by 2^(−m).
    const g = scaledGains(labels, mask, 'exp2');
    return tf.mul(g, inverseMaxDcg(g, mask, { gainFn: 'identity', rankDiscountFn: o.rankDiscountFn, topn: o.topn })) as tf.Tensor2D;
  }
  const g = tf.where(tf.greater(mask, 0), gainOf(o.gainFn, y), tf.zerosLike(y)) as tf.Tensor2D;
  return o.normalized ? (tf.mul(g, inverseMaxDcg(labels, mask, o)) as tf.Tensor2D) : g;
}

function listSizeFactor(mask: tf.Tensor2D, scaling: ListSizeScaling): tf.Tensor | number {
  if (scaling === 'none') return 1;
  if (scaling === 'padded') return mask.shape[1];
  return tf.reshape(listLengths(mask), [-1, 1, 1]);
}

/** TF-Ranking LabelDiffLambdaWeight: |y_i − y_j|. */
export function labelDiffLambdaWeight(): LambdaWeight {
  return {
    type: 'label_diff',
    pairWeights: (labels, _ranks, mask) => tf.mul(tf.abs(pairDiff(maskedLabels(labels, mask))), validPairs(mask)) as tf.Tensor3D,
  };
}

function dcgFamily(type: 'dcg' | 'ndcg' | 'ndcg_v2' | 'yeti_dcg', o: DcgLambdaWeightOptions, defaults: { gainFn: GainFn; rankDiscountFn: RankDiscountFn; normalized: boolean }): LambdaWeight {
  const sf = o.smoothFraction ?? 0;
  if (!(sf >= 0 && sf <= 1)) throw new InputError(`smoothFraction ${sf} must be in [0, 1]`, { field: 'lossOptions.lambdaWeight.smoothFraction' });
  if (o.topn !== undefined && !(Number.isInteger(o.topn) && o.topn > 0)) throw new InputError(`topn must be a positive integer`, { field: 'lossOptions.lambdaWeight.topn' });
  const opts = {
    gainFn: o.gainFn ?? defaults.gainFn,
    rankDiscountFn: o.rankDiscountFn ?? defaults.rankDiscountFn,
    normalized: o.normalized ?? defaults.normalized,
    topn: o.topn,
  };
  const scaling = o.listSizeScaling ?? 'real';
  const disc = (r: tf.Tensor) => discountOf(opts.rankDiscountFn, r);
  const pairRankDiscount = (ranks: tf.Tensor2D, topn: number): tf.Tensor3D => {
    const ri = tf.expandDims(ranks, 2);
    const rj = tf.expandDims(ranks, 1);
    const diff = tf.abs(tf.sub(ri, rj));
    const safeDiff = tf.maximum(diff, 1); // the discount is taken at |i − j| ≥ 1 only
    const relative = tf.abs(tf.sub(disc(safeDiff), disc(tf.add(safeDiff, 1))));
    if (type === 'ndcg_v2' || type === 'yeti_dcg') {
      const maxRank = tf.maximum(ri, rj);
      const beyond = tf.greater(maxRank, topn);
      const safeMax = tf.where(beyond, maxRank, tf.fill(maxRank.shape, 2)); // 1 − disc(1) may be 0
      const multiplier = tf.where(beyond, tf.div(1, tf.sub(1, disc(safeMax))), tf.onesLike(maxRank));
      let w = tf.where(tf.greater(diff, 0), tf.mul(relative, multiplier), tf.zerosLike(diff));
      if (type === 'yeti_dcg') w = tf.mul(w, tf.cast(tf.equal(diff, 1), 'float32'));
      return w as tf.Tensor3D;
    }
    const inTop = tf.lessEqual(ranks, topn);
    const pairInTop = tf.logicalOr(tf.expandDims(inTop, 2), tf.expandDims(inTop, 1));
    const u = tf.where(tf.logicalAnd(tf.greater(diff, 0), pairInTop), relative, tf.zerosLike(diff));
    const d = tf.where(inTop, disc(ranks), tf.zerosLike(ranks)) as tf.Tensor2D;
    const v = tf.abs(pairDiff(d));
    const mixed = tf.add(tf.mul(1 - sf, u), tf.mul(sf, v));
    return tf.mul(mixed, tf.cast(pairInTop, 'float32')) as tf.Tensor3D;
  };
  return {
    type,
    pairWeights: (labels, ranks, mask) => {
      const n = labels.shape[1];
      const g = dcgGains(labels, mask, opts);
      const pairGain = tf.mul(tf.abs(pairDiff(g)), validPairs(mask));
      // Ranks of padded items are beyond the real ones; their pairs are already 0.
      const w = tf.mul(pairGain, pairRankDiscount(ranks, opts.topn ?? n));
      return tf.mul(w, listSizeFactor(mask, scaling)) as tf.Tensor3D;
    },
    individualWeights: (labels, ranks, mask) => {
      const g = dcgGains(labels, mask, opts);
      return tf.where(tf.greater(mask, 0), tf.mul(g, disc(ranks)), tf.zerosLike(g)) as tf.Tensor2D;
    },
  };
}

/** TF-Ranking DCGLambdaWeight (defaults: gain y, discount 1/r, not normalised, smooth fraction 0). */
export function dcgLambdaWeight(o: DcgLambdaWeightOptions = {}): LambdaWeight {
  return dcgFamily('dcg', o, { gainFn: 'identity', rankDiscountFn: 'inverse', normalized: false });
}

/** TF-Ranking (Keras) NDCGLambdaWeight: DCGLambdaWeight with 2^y − 1, 1/log2(1 + r), normalised. */
export function ndcgLambdaWeight(o: Omit<DcgLambdaWeightOptions, 'normalized'> = {}): LambdaWeight {
  return dcgFamily('ndcg', { ...o, normalized: true }, { gainFn: 'pow_minus_1', rankDiscountFn: 'log2_inverse', normalized: true });
}

/**
 * TF-Ranking NDCGLambdaWeightV2 (DCGLambdaWeightV2, normalised): LambdaLoss' weight; with topn, pairs
 * beyond it are scaled by 1/(1 − discount(max rank)) instead of dropped.
 */
export function ndcgLambdaWeightV2(o: Omit<DcgLambdaWeightOptions, 'normalized' | 'smoothFraction'> = {}): LambdaWeight {
  return dcgFamily('ndcg_v2', { ...o, normalized: true }, { gainFn: 'pow_minus_1', rankDiscountFn: 'log2_inverse', normalized: true });
}

/** TF-Ranking YetiDCGLambdaWeight: NDCGLambdaWeightV2's weight on neighbouring ranks only (not normalised by default). */
export function yetiDcgLambdaWeight(o: Omit<DcgLambdaWeightOptions, 'smoothFraction'> = {}): LambdaWeight {
  return dcgFamily('yeti_dcg', o, { gainFn: 'pow_minus_1', rankDiscountFn: 'log2_inverse', normalized: false });
}

/** TF-Ranking PrecisionLambdaWeight: 1 for pairs of a positive (label ≥ 1) and a negative on either side of topn. */
export function precisionLambdaWeight(o: { topn: number; positiveFn?: (labels: tf.Tensor) => tf.Tensor }): LambdaWeight {
  if (!(Number.isInteger(o?.topn) && o.topn > 0)) throw new InputError(`topn must be a positive integer`, { field: 'lossOptions.lambdaWeight.topn' });
  return {
    type: 'precision',
    pairWeights: (labels, ranks, mask) => {
      const y = maskedLabels(labels, mask);
      const pos = tf.cast(o.positiveFn ? o.positiveFn(y) : tf.greaterEqual(y, 1), 'float32') as tf.Tensor2D;
      const labelDiff = tf.mul(tf.abs(pairDiff(pos)), validPairs(mask));
      const top = tf.lessEqual(ranks, o.topn);
      const xor = tf.notEqual(tf.expandDims(top, 2), tf.expandDims(top, 1));
      return tf.mul(labelDiff, tf.cast(xor, 'float32')) as tf.Tensor3D;
    },
  };
}

/** TF-Ranking ListMLELambdaWeight: ListMLE's term at 1-based position r weighted rank_discount_fn(r). */
export function listMLELambdaWeight(o: { rankDiscountFn?: RankDiscountFn } = {}): LambdaWeight {
  const fn = o.rankDiscountFn ?? 'log2_inverse';
  return {
    type: 'listmle',
    pairWeights: () => {
      throw new InputError(`a listmle lambda weight applies to listmle only`, { field: 'lossOptions.lambdaWeight' });
    },
    individualWeights: (labels, ranks, mask) => tf.where(tf.greater(mask, 0), discountOf(fn, ranks), tf.zerosLike(labels)) as tf.Tensor2D,
  };
}

const SPEC_KEYS: Record<string, readonly string[]> = {
  label_diff: [],
  dcg: ['topn', 'gainFn', 'rankDiscountFn', 'normalized', 'smoothFraction', 'listSizeScaling'],
  ndcg: ['topn', 'gainFn', 'rankDiscountFn', 'smoothFraction', 'listSizeScaling'],
  ndcg_v2: ['topn', 'gainFn', 'rankDiscountFn', 'listSizeScaling'],
  yeti_dcg: ['topn', 'gainFn', 'rankDiscountFn', 'normalized', 'listSizeScaling'],
  precision: ['topn'],
  listmle: ['rankDiscountFn'],
};

/** A lambda weight from an object made here or a JSON spec; bad specs throw an InputError. */
export function toLambdaWeight(x: LambdaWeight | LambdaWeightSpec | undefined): LambdaWeight | undefined {
  if (x === undefined) return undefined;
  if (typeof (x as LambdaWeight).pairWeights === 'function') return x as LambdaWeight;
  const field = 'lossOptions.lambdaWeight';
  const spec = x as LambdaWeightSpec & Record<string, unknown>;
  if (typeof spec !== 'object' || spec === null || !(spec.type in SPEC_KEYS)) {
    throw new InputError(`lambdaWeight must be a lambda weight object or { type: ${Object.keys(SPEC_KEYS).join(' | ')} }`, { field });
  }
  for (const k of Object.keys(spec)) {
    if (k !== 'type' && !SPEC_KEYS[spec.type].includes(k)) throw new InputError(`unknown key for lambda weight '${spec.type}'; known: ${SPEC_KEYS[spec.type].join(', ')}`, { field: `${field}.${k}` });
  }
  if (spec.gainFn !== undefined && !['identity', 'pow_minus_1'].includes(spec.gainFn as string)) throw new InputError(`gainFn must be 'identity' or 'pow_minus_1'`, { field: `${field}.gainFn` });
  if (spec.rankDiscountFn !== undefined && !['inverse', 'log2_inverse'].includes(spec.rankDiscountFn as string)) throw new InputError(`rankDiscountFn must be 'inverse' or 'log2_inverse'`, { field: `${field}.rankDiscountFn` });
  if (spec.listSizeScaling !== undefined && !['real', 'padded', 'none'].includes(spec.listSizeScaling as string)) throw new InputError(`listSizeScaling must be 'real', 'padded' or 'none'`, { field: `${field}.listSizeScaling` });
  switch (spec.type) {
    case 'label_diff':
      return labelDiffLambdaWeight();
    case 'dcg':
      return dcgLambdaWeight(spec);
    case 'ndcg':
      return ndcgLambdaWeight(spec);
    case 'ndcg_v2':
      return ndcgLambdaWeightV2(spec);
    case 'yeti_dcg':
      return yetiDcgLambdaWeight(spec);
    case 'precision':
      return precisionLambdaWeight(spec);
    case 'listmle':
      return listMLELambdaWeight(spec);
  }
}

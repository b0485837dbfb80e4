// The loss interface: every ranking loss maps (scores, labels, mask) of shape [lists, listSize]
// to a scalar, plus per-list values for logging and analysis. Padding has mask 0 and must not
// change the value or the gradient.
import type * as tf from '@tensorflow/tfjs-core';

// A type alias (not an interface) so that tf.tidy can return it.
export type LossResult = {
  /** The reduced loss (what is differentiated). */
  loss: tf.Scalar;
  /** One value per list (0 for lists that contribute nothing, e.g. all padding or all labels tied). */
  perList: tf.Tensor1D;
  /** Named parts of a composite objective, logged by the trainer. */
  components?: Record<string, tf.Scalar>;
};

/**
 * Unreduced loss values ℓ, their loss weights w (sample weights folded in) and a 0/1 tensor marking
 * the entries that exist, all of one shape: [lists] (listwise), [lists, n] (pointwise) or
 * [lists, n, n] (pairwise, entry [b, i, j] = pair (i, j)). Values and weights of absent entries are
 * finite but meaningless. See reduction.ts.
 */
export type UnreducedLoss = { values: tf.Tensor; weights: tf.Tensor; present: tf.Tensor };

/**
 * A ranking loss. `weights` (optional): per-list [lists] or per-item [lists, listSize] sample weights
 * with TF-Ranking's semantics (a pair weighs what its more relevant item weighs; a list weighs the
 * label-weighted mean of its item weights). Built-in losses also expose `unreduced`.
 */
export type RankingLoss = ((scores: tf.Tensor2D, labels: tf.Tensor2D, mask: tf.Tensor2D, weights?: tf.Tensor1D | tf.Tensor2D) => LossResult) & {
  unreduced?: (scores: tf.Tensor2D, labels: tf.Tensor2D, mask: tf.Tensor2D, weights?: tf.Tensor1D | tf.Tensor2D) => UnreducedLoss;
};

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type LossFactory<O = any> = (options?: O) => RankingLoss;

export interface LossInfo {
  name: string;
  /** One line: what it optimises and its reduction. */
  description: string;
  /** Paper / reference implementation it follows. */
  source: string;
  factory: LossFactory;
}

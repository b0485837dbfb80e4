// From the real pairs of a trainer micro-batch (row-major over its lists, padding left out) to the
// [lists, listSize] grid the ranking losses take.
import * as tf from '@tensorflow/tfjs-core';

/**
 * Per-pair values (the real pairs of a micro-batch, row-major) → the [lists, listSize] grid the
 * losses take. `slot[i]` is the pair index of grid cell i; a negative or out-of-range index marks
 * padding, which reads 0 (masked out by the losses). Differentiable in `values`.
 */
export function toListGrid(values: tf.Tensor1D, slot: readonly number[], shape: [number, number]): tf.Tensor2D {
  return tf.tidy(() => {
    const n = values.shape[0];
    const idx = tf.tensor1d(slot.map((s) => (s >= 0 && s < n ? s : n)), 'int32');
    return tf.reshape(tf.gather(tf.concat([values, tf.zeros([1])]), idx), shape) as tf.Tensor2D;
  });
}

/**
 * The slot map of a [lists, listSize] mask: cell i → its pair index among the real (mask > 0) cells,
 * counted row-major, or -1 for padding. The Trainer builds it with the micro-batch and passes it to
 * `trainingLoss`; this rebuilds it for a caller that has only the mask.
 */
export function slotsFromMask(mask: ArrayLike<number>): number[] {
  let k = 0;
  return Array.from(mask, (v) => (v > 0 ? k++ : -1));
}

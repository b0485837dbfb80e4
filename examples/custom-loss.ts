// Adding your own ranking loss: one function that maps (scores, labels, mask) [lists, listSize] to
// { loss, perList }, registered under a name so a trainer config can say `loss: 'top1_hinge'`.
//
// Rules every built-in loss follows, and yours should too:
// - padding (mask 0) may hold anything, even NaN: replace padded scores/labels first (sanitize) and
//   remove padded terms with tf.where or a 0/1 weight on finite values;
// - comparisons (tf.greater, tf.equal…) have no gradient in tfjs: apply them to labels and masks
//   only, or wrap them in noGrad when they must look at scores;
// - return a scalar `loss` and one value per list; run everything inside tf.tidy.
//
// Run: npx tsx examples/custom-loss.ts
import { pathToFileURL } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend, getLoss, registerLoss, type RankingLoss } from 'rankdistill';
import { checkOptions, safeDiv, sanitize } from 'rankdistill/losses';

export interface Top1HingeOptions {
  /** Required score gap between the best-labelled item and every other item. Default 1. */
  margin?: number;
}

/**
 * Top-1 hinge: the best-labelled item of each list should outscore every item with a lower label by
 * `margin`; per list the mean of max(0, margin − (s_best − s_j)); mean over lists with such a pair.
 */
export function top1Hinge(opts: Top1HingeOptions = {}): RankingLoss {
  checkOptions('top1_hinge', opts, { margin: 'nonnegative' }); // bad config values name the field
  const margin = opts.margin ?? 1;
  return (scores, labels, mask) =>
    tf.tidy(() => {
      const s = sanitize(scores, mask); // padded scores → 0
      const y = sanitize(labels, mask, -Infinity); // padded labels can never be the best
      const yBest = tf.max(y, 1, true);
      const isBest = tf.cast(tf.equal(y, yBest), 'float32'); // labels only: no gradient needed
      // Score of the best item (the mean if several tie for best).
      const sBest = safeDiv(tf.sum(tf.mul(s, isBest), 1, true), tf.sum(isBest, 1, true));
      const below = tf.cast(tf.logicalAnd(tf.greater(mask, 0), tf.less(y, yBest)), 'float32');
      const hinge = tf.mul(tf.relu(tf.sub(margin, tf.sub(sBest, s))), below);
      const count = tf.sum(below, 1);
      const perList = safeDiv(tf.sum(hinge, 1), count) as tf.Tensor1D;
      const lists = tf.sum(tf.cast(tf.greater(count, 0), 'float32'));
      return { loss: safeDiv(tf.sum(perList), lists) as tf.Scalar, perList };
    });
}

registerLoss('top1_hinge', top1Hinge, {
  description: 'max(0, m − (s_best − s_j)) for items below the best label; mean over lists',
  source: 'examples/custom-loss.ts',
});

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  // The trainer resolves names the same way: new Trainer(model, { loss: 'top1_hinge', lossOptions: { margin: 0.5 } }).
  await initBackend();
  const loss = getLoss('top1_hinge', { margin: 0.5 });
  const scores = tf.tensor2d([
    [2.0, 1.8, -1, NaN],
    [0.3, 0.1, 0.2, 0.0],
  ]);
  const labels = tf.tensor2d([
    [3, 1, 0, -1],
    [0, 2, 1, 0],
  ]);
  const mask = tf.tensor2d([
    [1, 1, 1, 0],
    [1, 1, 1, 1],
  ]);
  const { loss: value, perList } = loss(scores, labels, mask);
  const grad = tf.grad((s: tf.Tensor) => loss(s as tf.Tensor2D, labels, mask).loss)(scores);
  console.log('loss', value.dataSync()[0], 'per list', Array.from(perList.dataSync()));
  console.log('d loss / d scores', grad.arraySync());
}

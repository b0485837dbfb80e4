// Per-kernel profile of one cross-encoder train step (or forward pass) on the active backend: where
// the time goes, to plan optimisations. `npx tsx bench/profile.ts [--hidden 128 --layers 2 --seq 128
// --batch 32 --infer]`. Kernel times come from tf.profile (the backend's own timer).
import { parseArgs } from 'node:util';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend, CrossEncoder } from 'rankdistill';

const { values } = parseArgs({
  options: {
    hidden: { type: 'string', default: '128' }, layers: { type: 'string', default: '2' }, seq: { type: 'string', default: '128' },
    batch: { type: 'string', default: '32' }, infer: { type: 'boolean', default: false },
  },
});
const info = await initBackend();
const H = Number(values.hidden);
const model = new CrossEncoder({
  vocab_size: 30522, hidden_size: H, num_hidden_layers: Number(values.layers), num_attention_heads: Math.max(1, H / 64),
  intermediate_size: 4 * H, num_labels: 1,
});
const [B, S] = [Number(values.batch), Number(values.seq)];
const x = {
  inputIds: tf.randomUniform([B, S], 1000, 29000, 'int32') as tf.Tensor2D,
  attentionMask: tf.ones([B, S], 'int32') as tf.Tensor2D,
  tokenTypeIds: tf.zeros([B, S], 'int32') as tf.Tensor2D,
};
const vars = [...model.trainableVariables().values()];
const step = () =>
  values.infer
    ? tf.tidy(() => tf.sum(model.logits(x, false))).dataSync()
    : tf.tidy(() => {
        const { value, grads } = tf.variableGrads(() => tf.mean(tf.square(model.logits(x, true))) as tf.Scalar, vars);
        tf.dispose(Object.values(grads));
        return value;
      }).dataSync();
step();
const t0 = performance.now();
step();
const wall = performance.now() - t0;
const prof = await tf.profile(() => {
  step();
});
const by = new Map<string, { ms: number; n: number }>();
for (const k of prof.kernels) {
  const e = by.get(k.name) ?? { ms: 0, n: 0 };
  e.ms += typeof k.kernelTimeMs === 'number' ? k.kernelTimeMs : 0;
  e.n += 1;
  by.set(k.name, e);
}
const total = [...by.values()].reduce((a, e) => a + e.ms, 0);
console.log(`${info.backend}: ${values.infer ? 'forward' : 'train step'} H=${H} L=${values.layers} S=${S} B=${B}: wall ${wall.toFixed(1)} ms, ${prof.kernels.length} kernels, kernel time ${total.toFixed(1)} ms`);
for (const [name, e] of [...by].sort((a, b) => b[1].ms - a[1].ms).slice(0, 20)) {
  console.log(`  ${name.padEnd(22)} ${e.ms.toFixed(1).padStart(8)} ms  ${String(e.n).padStart(5)} calls  ${((100 * e.ms) / total).toFixed(1).padStart(5)}%`);
}

// Kernel overrides for the pure-JS cpu backend. Its UnsortedSegmentSum (the gradient of an
// embedding lookup) builds a [segments × ids] one-hot product: quadratic in time and memory, over
// 9 GB for a 30k vocabulary. This one is a single linear pass.
import * as tf from '@tensorflow/tfjs-core';

interface CpuBackendLike {
  data: { get(id: tf.DataId): { values: tf.backend_util.BackendValues } };
  makeTensorInfo(shape: number[], dtype: tf.DataType, values: tf.backend_util.BackendValues): tf.TensorInfo;
}

/**
 * out[ids[i]] += x[i] over rows of `inner` values, skipping ids outside out's rows (as TF does).
 * One linear pass; shared by the cpu and wasm overrides. `out` must start zeroed.
 */
export function segmentSumInto(out: Float32Array | Int32Array, x: ArrayLike<number>, ids: ArrayLike<number>, inner: number, numSegments: number): void {
  for (let i = 0; i < ids.length; i++) {
    const s = ids[i];
    if (s < 0 || s >= numSegments) continue;
    const src = i * inner;
    const dst = s * inner;
    for (let j = 0; j < inner; j++) out[dst + j] += x[src + j];
  }
}

let registered = false;

export function registerCpuKernelOverrides(): void {
  if (registered) return;
  registered = true;
  if (tf.getKernel('UnsortedSegmentSum', 'cpu')) tf.unregisterKernel('UnsortedSegmentSum', 'cpu');
  tf.registerKernel({
    kernelName: 'UnsortedSegmentSum',
    backendName: 'cpu',
    kernelFunc: ({ inputs, attrs, backend }) => {
      const { x, segmentIds } = inputs as { x: tf.TensorInfo; segmentIds: tf.TensorInfo };
      const numSegments = (attrs as unknown as { numSegments: number }).numSegments;
      const b = backend as unknown as CpuBackendLike;
      const xv = b.data.get(x.dataId).values as Float32Array | Int32Array;
      const ids = b.data.get(segmentIds.dataId).values as Int32Array;
      const rest = x.shape.slice(segmentIds.shape.length);
      const inner = rest.reduce((a, d) => a * d, 1);
      const out = x.dtype === 'int32' ? new Int32Array(numSegments * inner) : new Float32Array(numSegments * inner);
      segmentSumInto(out, xv, ids, inner, numSegments);
      return b.makeTensorInfo([numSegments, ...rest], x.dtype, out);
    },
  });
}

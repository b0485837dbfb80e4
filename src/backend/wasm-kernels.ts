// Kernel fixes for the stock wasm backend, registered through tfjs's kernel registry (model code never
// branches on the backend). UnsortedSegmentSum (the gradient of an embedding lookup) is missing on wasm.
import * as tf from '@tensorflow/tfjs-core';
import { segmentSumInto } from './cpu-kernels.js';

interface WasmBackendLike {
  typedArrayFromHeap(t: tf.TensorInfo): Float32Array | Int32Array | Uint8Array;
  makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo;
}

let registered = false;

export function registerWasmKernelOverrides(): void {
  if (registered) return;
  registered = true;
  if (!tf.getKernel('UnsortedSegmentSum', 'wasm')) {
    tf.registerKernel({
      kernelName: 'UnsortedSegmentSum',
      backendName: 'wasm',
      kernelFunc: ({ inputs, attrs, backend }) => {
        const { x, segmentIds } = inputs as { x: tf.TensorInfo; segmentIds: tf.TensorInfo };
        const numSegments = (attrs as unknown as { numSegments: number }).numSegments;
        const b = backend as unknown as WasmBackendLike;
        const xv = b.typedArrayFromHeap(x);
        const ids = b.typedArrayFromHeap(segmentIds);
        const inner = x.shape.slice(segmentIds.shape.length).reduce((a, d) => a * d, 1);
        const out = b.makeOutput([numSegments, ...x.shape.slice(segmentIds.shape.length)], x.dtype);
        const ov = b.typedArrayFromHeap(out);
        ov.fill(0);
        segmentSumInto(ov as Float32Array | Int32Array, xv, ids, inner, numSegments);
        return out;
      },
    });
  }
}

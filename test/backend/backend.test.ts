import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import { currentBackend, initBackend } from '../../src/backend/index.js';

describe('backend', () => {
  it('uses the native TensorFlow backend unless told otherwise', async function () {
    const info = await initBackend();
    const wanted = process.env.RANKDISTILL_BACKEND;
    if (wanted && wanted !== 'auto' && wanted !== 'tensorflow' && !wanted.startsWith('tfjs-node')) this.skip();
    // CI=true (or RANKDISTILL_REQUIRE_NATIVE=1) makes a fallback a failure: this machine must build it.
    if (info.backend !== 'tensorflow' && !(process.env.CI || process.env.RANKDISTILL_REQUIRE_NATIVE)) this.skip();
    expect(info.backend).to.equal('tensorflow');
    expect(tf.getBackend()).to.equal('tensorflow');
    expect(info.tensorflow).to.match(/^\d+\.\d+/);
    expect(info.threads).to.be.greaterThan(0);
    expect(currentBackend()).to.equal(info);
  });

  it('computes on the selected backend', () => {
    const y = tf.tidy(() => tf.matMul(tf.tensor2d([[1, 2], [3, 4]]), tf.tensor2d([[5], [6]])).dataSync());
    expect(Array.from(y)).to.deep.equal([17, 39]);
  });

  // The fallbacks run in a child process: a process has one backend registry.
  for (const backend of ['wasm', 'cpu']) {
    it(`falls back to ${backend} with working gradients when asked to`, () => {
      const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
      const code = `
        import * as tf from '@tensorflow/tfjs-core';
        import { initBackend } from './src/backend/index.ts';
        const info = await initBackend();
        const g = tf.grad((x) => tf.mean(tf.square(tf.matMul(x, x, false, true))))(tf.tensor2d([[1, 2], [3, 4]]));
        // An embedding lookup's gradient (UnsortedSegmentSum) over a 30k-row table.
        const table = tf.zeros([30522, 4]);
        const ids = tf.tensor1d([5, 30000, 5], 'int32');
        const e = tf.grad((t) => tf.sum(tf.mul(tf.gather(t, ids), tf.tensor2d([[1, 2, 3, 4], [5, 6, 7, 8], [1, 1, 1, 1]]))))(table);
        const rows = Array.from(tf.gather(e, tf.tensor1d([5, 30000, 6], 'int32')).dataSync());
        console.log(JSON.stringify({ backend: info.backend, grad: Array.from(g.dataSync()), rows }));`;
      const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], {
        cwd: root,
        encoding: 'utf8',
        env: { ...process.env, RANKDISTILL_BACKEND: backend },
      });
      expect(r.status, r.stderr).to.equal(0);
      const out = JSON.parse(r.stdout.trim().split('\n').pop()!) as { backend: string; grad: number[]; rows: number[] };
      expect(out.rows).to.deep.equal([2, 3, 4, 5, 5, 6, 7, 8, 0, 0, 0, 0]);
      expect(out.backend).to.equal(backend);
      // f = mean(A²) with A = X Xᵀ = [[5, 11], [11, 25]]: df/dA = A / 2, df/dX = (df/dA + df/dAᵀ) X = A X.
      expect(out.grad).to.deep.equal([38, 54, 86, 122]);
    });
  }
});

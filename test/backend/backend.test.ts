import { expect } from 'chai';
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
});

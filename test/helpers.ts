// Shared test utilities: where the shared data lives, float comparisons, leak checks.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import { expect } from 'chai';

const here = path.dirname(fileURLToPath(import.meta.url));

/** ../shared/data (or RANKDISTILL_DATA). */
export const DATA_DIR = path.resolve(process.env.RANKDISTILL_DATA ?? path.join(here, '..', '..', 'shared', 'data'));

export function dataPath(...parts: string[]): string {
  return path.join(DATA_DIR, ...parts);
}

export function hasData(...parts: string[]): boolean {
  return fs.existsSync(dataPath(...parts));
}

const tmpDirs: string[] = [];
process.on('exit', () => {
  for (const d of tmpDirs) fs.rmSync(d, { recursive: true, force: true });
});

/** A fresh temporary directory, removed at process exit. */
export function tmpDir(prefix = 'rankdistill-test-'): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  tmpDirs.push(d);
  return d;
}

/** Element-wise |got - want| <= atol + rtol * |want|, reporting the worst element. */
export function expectClose(got: ArrayLike<number>, want: ArrayLike<number>, atol: number, rtol = 0, what = 'value'): void {
  expect(got.length, `${what}: length`).to.equal(want.length);
  let worst = -1;
  let worstExcess = 0;
  for (let i = 0; i < want.length; i++) {
    const excess = Math.abs(got[i] - want[i]) - (atol + rtol * Math.abs(want[i]));
    if (!(excess <= 0) && (worst < 0 || excess > worstExcess || Number.isNaN(excess))) {
      worst = i;
      worstExcess = excess;
    }
  }
  if (worst >= 0) {
    expect.fail(`${what}[${worst}]: got ${got[worst]}, want ${want[worst]} (tolerance ${atol} + ${rtol}·|want|)`);
  }
}

/** Runs fn and asserts that it leaves the number of live tensors unchanged. */
export async function expectNoLeak<T>(fn: () => T | Promise<T>, what = 'operation'): Promise<T> {
  const before = tf.memory().numTensors;
  const r = await fn();
  expect(tf.memory().numTensors, `${what} leaked tensors`).to.equal(before);
  return r;
}

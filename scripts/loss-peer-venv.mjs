#!/usr/bin/env node
// Creates the loss peer: a venv (no system site packages) with PyTorch CPU, allRank and TF-Ranking,
// whose real loss code the loss tests run against (test/losses/peer.test.ts). In .cache/losses-peer,
// or $RANKDISTILL_LOSS_PEER_VENV. Prints the venv's python path. Idempotent.
//
// - torch==2.13.0 is the CPU build (pip's find-links has it); allRank 1.4.3 pins torch<=1.8, so it is
//   installed with --no-deps (its losses run on torch 2.x unchanged).
// - TF-Ranking 0.5.5 declares tensorflow<2.16 but its loss code runs on TensorFlow 2.21 with tf_keras
//   (TF_USE_LEGACY_KERAS=1); only its package __init__ fails (it imports tf.estimator, removed in
//   TF 2.16), so the tests import the loss modules directly (see PY_PRELUDE in peer.test.ts).
//   tensorflow-cpu comes from the wheel scripts/install-native.mjs already downloaded into
//   .cache/tf-wheel when it is there.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const TF_VERSION = '2.21.0';
export const LOSS_PEER_PACKAGES = ['torch==2.13.0', 'numpy', `tf-keras==${TF_VERSION}`, 'absl-py', 'six'];
export const LOSS_PEER_NODEPS = ['allRank==1.4.3', 'tensorflow-ranking==0.5.5'];

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

export function lossPeerDir() {
  return path.resolve(process.env.RANKDISTILL_LOSS_PEER_VENV || path.join(root, '.cache', 'losses-peer'));
}

export function lossPeerPythonPath() {
  return path.join(lossPeerDir(), 'bin', 'python');
}

const CHECK = 'import torch, tensorflow, tf_keras, importlib.util as u; assert u.find_spec("allrank") and u.find_spec("tensorflow_ranking")';

function complete(py) {
  if (!fs.existsSync(py)) return false;
  return spawnSync(py, ['-c', CHECK], { encoding: 'utf8', env: { ...process.env, TF_CPP_MIN_LOG_LEVEL: '3' } }).status === 0;
}

export function ensureLossPeer({ quiet = false } = {}) {
  const py = lossPeerPythonPath();
  if (complete(py)) return py;
  const say = (m) => {
    if (!quiet) console.error(`[rankdistill loss peer] ${m}`);
  };
  const t0 = Date.now();
  if (!fs.existsSync(py)) {
    say(`creating ${lossPeerDir()}`);
    const r = spawnSync('python3', ['-m', 'venv', lossPeerDir()], { stdio: 'inherit' });
    if (r.status !== 0) throw new Error('python3 -m venv failed');
  }
  const pip = (args) => {
    const r = spawnSync(py, ['-m', 'pip', 'install', '--retries', '0', '--disable-pip-version-check', '-q', ...args], { stdio: quiet ? 'ignore' : 'inherit' });
    if (r.status !== 0) throw new Error(`pip install ${args.join(' ')} failed (exit ${r.status})`);
  };
  const wheelDir = path.join(root, '.cache', 'tf-wheel');
  const wheel = fs.existsSync(wheelDir) && fs.readdirSync(wheelDir).find((f) => f.startsWith(`tensorflow_cpu-${TF_VERSION}-`) && f.endsWith('.whl'));
  say(`installing ${[...LOSS_PEER_PACKAGES, `tensorflow-cpu==${TF_VERSION}`].join(' ')}, then ${LOSS_PEER_NODEPS.join(' ')} without dependencies (one-time)`);
  pip([...LOSS_PEER_PACKAGES, wheel ? path.join(wheelDir, wheel) : `tensorflow-cpu==${TF_VERSION}`]);
  pip(['--no-deps', ...LOSS_PEER_NODEPS]);
  if (!complete(py)) throw new Error('the loss peer venv does not import torch, tensorflow, tf_keras, allrank and tensorflow_ranking');
  say(`ready in ${((Date.now() - t0) / 1000).toFixed(0)} s`);
  return py;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  try {
    console.log(ensureLossPeer());
  } catch (e) {
    console.error(`[rankdistill loss peer] ${e.message}`);
    process.exit(1);
  }
}

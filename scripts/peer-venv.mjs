#!/usr/bin/env node
// Creates the PyTorch + HF transformers peer (the reference implementation our numbers are checked
// against and benchmarked with) in .cache/peer, or $RANKDISTILL_PEER_VENV, from the configured Python
// package index. Prints the venv's python path. Idempotent: an existing, complete venv is reused.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

// gguf + accelerate: transformers' GGUF loader; pytrec-eval-terrier and ir-measures: trec_eval cross-checks.
export const PEER_PACKAGES = ['torch==2.13.0', 'numpy', 'transformers==5.17.0', 'sentence-transformers==6.0.1', 'safetensors', 'gguf', 'accelerate', 'pytrec-eval-terrier', 'ir-measures'];

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

export function peerDir() {
  return path.resolve(process.env.RANKDISTILL_PEER_VENV || path.join(root, '.cache', 'peer'));
}

export function peerPythonPath() {
  return path.join(peerDir(), 'bin', 'python');
}

function complete(py) {
  if (!fs.existsSync(py)) return false;
  const r = spawnSync(py, ['-c', 'import torch, transformers, sentence_transformers, safetensors, gguf, accelerate, pytrec_eval, ir_measures'], { encoding: 'utf8' });
  return r.status === 0;
}

export function ensurePeer({ quiet = false } = {}) {
  const py = peerPythonPath();
  if (complete(py)) return py;
  const say = (m) => { if (!quiet) console.error(`[rankdistill peer] ${m}`); };
  const t0 = Date.now();
  if (!fs.existsSync(py)) {
    say(`creating ${peerDir()}`);
    const r = spawnSync('python3', ['-m', 'venv', peerDir()], { stdio: 'inherit' });
    if (r.status !== 0) throw new Error('python3 -m venv failed');
  }
  say(`installing ${PEER_PACKAGES.join(' ')} (one-time)`);
  // --retries 0: an unreachable default index fails at once and the configured extra indexes answer.
  const r = spawnSync(py, ['-m', 'pip', 'install', '--retries', '0', '--disable-pip-version-check', '-q', ...PEER_PACKAGES], {
    stdio: quiet ? 'ignore' : 'inherit',
  });
  if (r.status !== 0 || !complete(py)) throw new Error(`pip install of the peer failed (exit ${r.status})`);
  say(`ready in ${((Date.now() - t0) / 1000).toFixed(0)} s`);
  return py;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  try {
    console.log(ensurePeer());
  } catch (e) {
    console.error(`[rankdistill peer] ${e.message}`);
    process.exit(1);
  }
}

// Runs Python code in the PyTorch + HF transformers peer venv (created on first use; .ci/run creates
// it up front). Interop tests use it to load what we save and to save what we load.
import { spawnSync } from 'node:child_process';
// @ts-expect-error plain .mjs script without type declarations
import { ensurePeer } from '../scripts/peer-venv.mjs';

let python: string | null = null;

export function peerPython(): string {
  python ??= (ensurePeer as (o: { quiet: boolean }) => string)({ quiet: false });
  return python;
}

/** Runs `code` with `args` in the peer; returns stdout, throws with stderr on failure. */
export function runPeer(code: string, args: string[] = [], timeoutMs = 600000): string {
  const r = spawnSync(peerPython(), ['-c', code, ...args], {
    encoding: 'utf8',
    timeout: timeoutMs,
    maxBuffer: 256 << 20,
    env: { ...process.env, OMP_NUM_THREADS: process.env.OMP_NUM_THREADS ?? '2', TRANSFORMERS_VERBOSITY: 'error' },
  });
  if (r.status !== 0) throw new Error(`peer python failed (${r.status}): ${r.stderr}`);
  return r.stdout;
}

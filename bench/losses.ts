// Loss benchmark: value + gradient of the common losses here and in PyTorch, same shapes, same
// machine, rounds interleaved (ours, then torch). The torch side runs in the loss peer venv
// (scripts/loss-peer-venv.mjs): RankNet and softmax CE written as RankGPT / TF-Ranking define them,
// LambdaLoss = allRank's own lambdaLoss; torch gets the faster of 1 and 2 threads. Prints median ms
// per call (wall and CPU) and the speed ratio, plus each framework's floor (a trivial gradient).
//
//   npx tsx bench/losses.ts [--rounds 5] [--iters 200] [--shape 32x30] [--only ranknet]
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend, getLoss } from 'rankdistill';
// @ts-expect-error plain .mjs script without type declarations
import { ensureLossPeer } from '../scripts/loss-peer-venv.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const arg = (name: string, dflt: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : dflt;
};
const ROUNDS = Number(arg('rounds', '5'));
const ITERS = Number(arg('iters', '200'));
const [LISTS, N] = arg('shape', '32x30').split('x').map(Number);

const CASES: Array<{ id: string; loss: string; options?: object; torch: string }> = [
  { id: 'ranknet', loss: 'ranknet', torch: 'ranknet' },
  { id: 'softmax_cross_entropy', loss: 'softmax_cross_entropy', torch: 'softmax_ce' },
  { id: 'lambdaloss ndcg_loss2pp (mean)', loss: 'lambdaloss', torch: 'lambdaloss' },
  { id: 'lambdaloss ranknet scheme (sum)', loss: 'lambdaloss', options: { scheme: 'ranknet', reduction: 'sum' }, torch: 'lambdaloss_ranknet' },
  // The frameworks' floor: the gradient of a trivial function (tf.grad of Σ 2s vs torch's backward).
  { id: 'floor: d(Σ 2s)/ds', loss: 'floor', torch: 'floor' },
];

const PY = String.raw`
import json, sys, time, types, os
import torch
torch.set_num_threads(int(sys.argv[5]))
# allRank's data loader and device helper pull sklearn/torchvision/gcsfs; the losses need neither.
d = types.ModuleType('allrank.data.dataset_loading'); d.PADDED_Y_VALUE = -1; sys.modules['allrank.data.dataset_loading'] = d
mu = types.ModuleType('allrank.models.model_utils'); mu.get_torch_device = lambda: torch.device('cpu'); sys.modules['allrank.models.model_utils'] = mu
from allrank.models.losses import lambdaLoss
b, n, iters, which = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
g = torch.Generator().manual_seed(2)
s0 = torch.randn(b, n, generator=g)
y = torch.randint(0, 4, (b, n), generator=g).float()
def ranknet(s):
    d = s[:, :, None] - s[:, None, :]
    w = ((y[:, :, None] - y[:, None, :]) > 0).float()
    return (torch.nn.functional.softplus(-d) * w).sum() / w.sum()
def softmax_ce(s):
    p = y / y.sum(1, keepdim=True).clamp_min(1e-12)
    per = -(p * torch.log_softmax(s, 1)).sum(1)
    wts = y.sum(1)
    return (per * wts).sum() / (wts > 0).sum()
fns = {'ranknet': ranknet, 'softmax_ce': softmax_ce, 'floor': lambda s: (s * 2).sum(),
       'lambdaloss': lambda s: lambdaLoss(s, y, weighing_scheme='ndcgLoss2PP_scheme', reduction='mean'),
       'lambdaloss_ranknet': lambda s: lambdaLoss(s, y)}
fn = fns[which]
def step():
    s = s0.clone().requires_grad_(True)
    fn(s).backward()
    s.grad.sum().item()
for _ in range(20): step()
t, c = time.perf_counter(), time.process_time()
for _ in range(iters): step()
print(json.dumps([(time.perf_counter() - t) * 1000 / iters, (time.process_time() - c) * 1000 / iters]))
`;

/** [wall ms, CPU ms (all threads)] per value + gradient call. */
async function ours(loss: string, options: object | undefined): Promise<[number, number]> {
  let seed = 7;
  const rnd = () => (seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32;
  const scores = tf.tensor2d(Array.from({ length: LISTS * N }, () => rnd() * 4 - 2), [LISTS, N]);
  const labels = tf.tensor2d(Array.from({ length: LISTS * N }, () => Math.floor(rnd() * 4)), [LISTS, N]);
  const mask = tf.onesLike(labels) as tf.Tensor2D;
  const fn = loss === 'floor' ? (x: tf.Tensor2D) => ({ loss: tf.sum(tf.mul(x, 2)) as tf.Scalar }) : getLoss(loss, options);
  const step = async () => {
    const g = tf.grad((x: tf.Tensor) => fn(x as tf.Tensor2D, labels, mask).loss)(scores);
    await g.data();
    g.dispose();
  };
  // V8 compiles the loss code after a few hundred calls; a training run makes thousands.
  for (let i = 0; i < 300; i++) await step();
  const t0 = performance.now();
  const c0 = process.cpuUsage();
  for (let i = 0; i < ITERS; i++) await step();
  const ms = (performance.now() - t0) / ITERS;
  const cpu = process.cpuUsage(c0);
  tf.dispose([scores, labels, mask]);
  return [ms, (cpu.user + cpu.system) / 1000 / ITERS];
}

/** torch at 1 and at 2 threads (its CPU kernels' thread handoffs can cost ms on a busy machine); the faster wall time. */
function torch(py: string, which: string): [number, number] {
  const runs = ['1', '2'].map((threads) => {
    const r = spawnSync(py, ['-c', PY, String(LISTS), String(N), String(ITERS), which, threads], { encoding: 'utf8', env: { ...process.env, OMP_NUM_THREADS: threads } });
    if (r.status !== 0) throw new Error(r.stderr);
    return JSON.parse(r.stdout.trim()) as [number, number];
  });
  return runs[0][0] <= runs[1][0] ? runs[0] : runs[1];
}

const median = (x: number[]) => [...x].sort((a, b) => a - b)[Math.floor(x.length / 2)];

await initBackend();
const py = (ensureLossPeer as (o: { quiet: boolean }) => string)({ quiet: false });
console.log(`losses, value + gradient, ${LISTS}×${N}, backend ${tf.getBackend()}, ${ROUNDS} rounds × ${ITERS} calls (root ${root})`);
// Wall time is what a training step waits for; CPU time (all threads) is steadier on a shared machine.
console.log('| loss | ours ms | torch ms | speed × torch (wall) | ours CPU ms | torch CPU ms | × torch (CPU) | our wall spread |');
console.log('|---|---|---|---|---|---|---|---|');
const only = process.argv.includes('--only') ? arg('only', '') : '';
for (const c of CASES.filter((x) => !only || x.id.startsWith(only))) {
  const a: Array<[number, number]> = [];
  const b: Array<[number, number]> = [];
  for (let r = 0; r < ROUNDS; r++) {
    a.push(await ours(c.loss, c.options));
    b.push(torch(py, c.torch));
  }
  const [ma, mb] = [median(a.map((x) => x[0])), median(b.map((x) => x[0]))];
  const [ca, cb] = [median(a.map((x) => x[1])), median(b.map((x) => x[1]))];
  const spread = (Math.max(...a.map((x) => x[0])) - Math.min(...a.map((x) => x[0]))) / ma;
  console.log(`| ${c.id} | ${ma.toFixed(3)} | ${mb.toFixed(3)} | ${(mb / ma).toFixed(2)} | ${ca.toFixed(3)} | ${cb.toFixed(3)} | ${(cb / ca).toFixed(2)} | ±${((spread / 2) * 100).toFixed(0)}% |`);
}

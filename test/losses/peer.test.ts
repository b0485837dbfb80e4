// Cross-check against allRank-style PyTorch code (the formulas of allRank's losses, written inline
// here, float64, padding = label −1 as in allRank): values and gradients of a fixed padded batch.
// Differences kept on purpose (see docs/losses.md): allRank's ε clamps (1e-10) do not bind on these
// inputs; allRank's lambdaLoss NaN masking (a no-op masked_fill) is done in place here.
// Skipped when the PyTorch peer venv is not installed.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { expectClose } from '../helpers.js';
import { runPeer } from '../peer.js';
import { getLoss } from '../../src/losses/index.js';
import { evaluate, peerBatch } from './cases.js';
import type { Matrix } from './reference.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const PY = path.resolve(process.env.RANKDISTILL_PEER_VENV || path.join(root, '.cache', 'peer'), 'bin', 'python');

function peerAvailable(): boolean {
  if (!fs.existsSync(PY)) return false;
  return spawnSync(PY, ['-c', 'import torch'], { encoding: 'utf8' }).status === 0;
}

const PY_ALLRANK = String.raw`
import itertools, json, sys
import numpy as np
import torch
import torch.nn.functional as F
torch.set_default_dtype(torch.float64)
PAD, EPS = -1, 1e-10

def rankNet(y_pred, y_true, weight_by_diff=False):
    y_pred, y_true = y_pred.clone(), y_true.clone()
    mask = y_true == PAD
    y_pred[mask] = float('-inf'); y_true[mask] = float('-inf')
    cand = list(itertools.product(range(y_true.shape[1]), repeat=2))
    pt, pp = y_true[:, cand], y_pred[:, cand]
    td = pt[:, :, 0] - pt[:, :, 1]; pd = pp[:, :, 0] - pp[:, :, 1]
    m = (td > 0) & (~torch.isinf(td))
    w = torch.abs(td)[m] if weight_by_diff else None
    return torch.nn.BCEWithLogitsLoss(weight=w)(pd[m], (td > 0).double()[m])

def listNet(y_pred, y_true):
    y_pred, y_true = y_pred.clone(), y_true.clone()
    mask = y_true == PAD
    y_pred[mask] = float('-inf'); y_true[mask] = float('-inf')
    return torch.mean(-torch.sum(F.softmax(y_true, 1) * torch.log(F.softmax(y_pred, 1) + EPS), 1))

def listMLE(y_pred, y_true):
    ys, idx = y_true.sort(descending=True, dim=-1)
    p = torch.gather(y_pred, 1, idx)
    mask = ys == PAD
    p = p.masked_fill(mask, float('-inf'))
    p = p - p.max(dim=1, keepdim=True)[0]
    cs = torch.cumsum(p.exp().flip(dims=[1]), 1).flip(dims=[1])
    obs = (torch.log(cs + EPS) - p).masked_fill(mask, 0.0)
    return torch.mean(torch.sum(obs, 1))

def lambdaLoss(y_pred, y_true, scheme=None, k=None, sigma=1., mu=10., reduction='sum', reduction_log='binary'):
    y_pred, y_true = y_pred.clone(), y_true.clone()
    pm = y_true == PAD
    y_pred[pm] = float('-inf'); y_true[pm] = float('-inf')
    yps, ip = y_pred.sort(descending=True, dim=-1)
    yts, _ = y_true.sort(descending=True, dim=-1)
    tsp = torch.gather(y_true, 1, ip)
    td = tsp[:, :, None] - tsp[:, None, :]
    ppm = torch.isfinite(td)
    if scheme != 'ndcgLoss1': ppm = ppm & (td > 0)
    n = y_pred.shape[1]
    km = torch.zeros((n, n), dtype=torch.bool); km[:k, :k] = 1
    tsp = tsp.clamp(min=0.); yts = yts.clamp(min=0.)
    pos = torch.arange(1, n + 1)
    D = torch.log2(1. + pos.double())[None, :]
    maxDCGs = torch.sum(((torch.pow(2, yts) - 1) / D)[:, :k], -1).clamp(min=EPS)
    G = (torch.pow(2, tsp) - 1) / maxDCGs[:, None]
    def ndcg2():
        di = torch.abs(pos[:, None] - pos[None, :])
        de = torch.abs(torch.pow(torch.abs(D[0, di - 1]), -1.) - torch.pow(torch.abs(D[0, di]), -1.))
        de.diagonal().zero_()
        return de[None] * torch.abs(G[:, :, None] - G[:, None, :])
    def lr():
        return torch.abs(torch.pow(D[:, :, None], -1.) - torch.pow(D[:, None, :], -1.)) * torch.abs(G[:, :, None] - G[:, None, :])
    w = {None: lambda: 1., 'ndcgLoss1': lambda: (G / D)[:, :, None], 'ndcgLoss2': ndcg2, 'lambdaRank': lr,
         'ndcgLoss2PP': lambda: mu * ndcg2() + lr()}[scheme]()
    sd = (yps[:, :, None] - yps[:, None, :]).clamp(min=-1e8, max=1e8)
    sd = torch.nan_to_num(sd, nan=0.)  # allRank's masked_fill here is not in place; its NaNs are masked out below
    wp = (torch.sigmoid(sigma * sd).clamp(min=EPS) ** w).clamp(min=EPS)
    losses = torch.log(wp) if reduction_log == 'natural' else torch.log2(wp)
    sel = losses[ppm & km]
    return -torch.sum(sel) if reduction == 'sum' else -torch.mean(sel)

def approxNDCGLoss(y_pred, y_true, alpha=1.):
    y_pred, y_true = y_pred.clone(), y_true.clone()
    pm = y_true == PAD
    y_pred[pm] = float('-inf'); y_true[pm] = float('-inf')
    yps, ip = y_pred.sort(descending=True, dim=-1)
    yts, _ = y_true.sort(descending=True, dim=-1)
    tsp = torch.gather(y_true, 1, ip)
    td = tsp[:, :, None] - tsp[:, None, :]
    ppm = torch.isfinite(td)
    ppm.diagonal(dim1=-2, dim2=-1).zero_()
    tsp = tsp.clamp(min=0.); yts = yts.clamp(min=0.)
    pos = torch.arange(1, y_pred.shape[1] + 1)
    D = torch.log2(1. + pos.double())[None, :]
    maxDCGs = torch.sum((torch.pow(2, yts) - 1) / D, -1).clamp(min=EPS)
    G = (torch.pow(2, tsp) - 1) / maxDCGs[:, None]
    sd = (yps[:, :, None] - yps[:, None, :]).masked_fill(~ppm, 0.)
    ap = 1. + torch.sum(ppm.double() * torch.sigmoid(-alpha * sd).clamp(min=EPS), -1)
    return -torch.mean(torch.sum(G / torch.log2(1. + ap), -1))

def neural_sort(s, tau, mask):
    n = s.size(1)
    s = s.masked_fill(mask[:, :, None], -1e8)
    A = torch.abs(s - s.permute(0, 2, 1)).masked_fill(mask[:, :, None] | mask[:, None, :], 0.0)
    B = torch.matmul(A, torch.ones((n, n)))
    temp = [n - int(m) + 1 - 2 * (torch.arange(n - int(m)) + 1) for m in mask.squeeze(-1).sum(dim=1)]
    temp = [torch.cat((t.double(), torch.zeros(n - len(t)))) for t in temp]
    scaling = torch.stack(temp)
    s = s.masked_fill(mask[:, :, None], 0.0)
    C = torch.matmul(s, scaling.unsqueeze(-2))
    P = (C - B).permute(0, 2, 1)
    P = P.masked_fill(mask[:, :, None] | mask[:, None, :], -np.inf)
    P = P.masked_fill(mask[:, :, None] & mask[:, None, :], 1.0)
    return F.softmax(P / tau, -1)

def sinkhorn(mat, mask, tol=1e-6, max_iter=50):
    mat = mat.masked_fill(mask[:, None, :] | mask[:, :, None], 0.0)
    mat = mat.masked_fill(mask[:, None, :] & mask[:, :, None], 1.0)
    for _ in range(max_iter):
        mat = mat / mat.sum(dim=1, keepdim=True).clamp(min=EPS)
        mat = mat / mat.sum(dim=2, keepdim=True).clamp(min=EPS)
        if torch.max(torch.abs(mat.sum(dim=2) - 1.)) < tol and torch.max(torch.abs(mat.sum(dim=1) - 1.)) < tol:
            break
    return mat.masked_fill(mask[:, None, :] | mask[:, :, None], 0.0)

def neuralNDCG(y_pred, y_true, temperature=1., k=None):
    n = y_true.shape[1]
    k = n if k is None else k
    mask = y_true == PAD
    P = sinkhorn(neural_sort(y_pred.unsqueeze(-1), temperature, mask), mask)
    g = torch.pow(2., y_true.masked_fill(mask, 0.)) - 1.
    gt = torch.matmul(P, g.unsqueeze(-1)).squeeze(-1)
    disc = 1. / torch.log2(torch.arange(n).double() + 2.)
    disc[k:] = 0.
    dg = (gt * disc)[:, :k].sum(-1)
    yt = y_true.masked_fill(mask, 0.)
    ideal = torch.sort(yt, descending=True, dim=1)[0]
    idcg = ((torch.pow(2., ideal) - 1.) * (1. / torch.log2(torch.arange(n).double() + 2.)))[:, :k].sum(-1)
    ndcg = (dg / (idcg + EPS)).masked_fill(idcg == 0., 0.)
    return -ndcg.sum() / (idcg != 0.).sum()

cases = json.loads(sys.argv[1])
out = []
for c in cases:
    s = torch.tensor(c['scores'], dtype=torch.float64, requires_grad=True)
    y = torch.tensor(c['labels'], dtype=torch.float64)
    fn = globals()[c['fn']]
    loss = fn(s, y, **c.get('kwargs', {}))
    loss.backward()
    out.append({'loss': loss.item(), 'grad': s.grad.tolist()})
print(json.dumps(out))
`;

interface PeerCase {
  title: string;
  fn: string;
  kwargs?: Record<string, unknown>;
  ours: string;
  options?: Record<string, unknown>;
  /** 'distinct' labels avoid label ties (allRank's ListMLE breaks them randomly). */
  labels?: 'graded' | 'distinct';
  /** allRank's NeuralSort masks rows by item index, so it needs the padding at the end of the list. */
  padEnd?: boolean;
}

const PEER_CASES: PeerCase[] = [
  { title: 'rankNet', fn: 'rankNet', ours: 'ranknet' },
  { title: 'rankNet weight_by_diff', fn: 'rankNet', kwargs: { weight_by_diff: true }, ours: 'ranknet', options: { labelDiffWeighted: true } },
  { title: 'listNet', fn: 'listNet', ours: 'listnet' },
  { title: 'listMLE', fn: 'listMLE', ours: 'listmle', labels: 'distinct' },
  { title: 'lambdaLoss default (RankNet weights, sum)', fn: 'lambdaLoss', ours: 'lambdaloss', options: { scheme: 'ranknet', reduction: 'sum' } },
  { title: 'lambdaLoss ndcgLoss1', fn: 'lambdaLoss', kwargs: { scheme: 'ndcgLoss1' }, ours: 'lambdaloss', options: { scheme: 'ndcg_loss1', reduction: 'sum' } },
  { title: 'lambdaLoss ndcgLoss2 k=3 mean', fn: 'lambdaLoss', kwargs: { scheme: 'ndcgLoss2', k: 3, reduction: 'mean' }, ours: 'lambdaloss', options: { scheme: 'ndcg_loss2', k: 3 } },
  { title: 'lambdaLoss lambdaRank natural', fn: 'lambdaLoss', kwargs: { scheme: 'lambdaRank', reduction_log: 'natural' }, ours: 'lambdaloss', options: { scheme: 'lambdarank', reduction: 'sum', logBase: Math.E } },
  { title: 'lambdaLoss ndcgLoss2PP σ=2 mean', fn: 'lambdaLoss', kwargs: { scheme: 'ndcgLoss2PP', sigma: 2, reduction: 'mean' }, ours: 'lambdaloss', options: { sigma: 2 } },
  { title: 'approxNDCGLoss', fn: 'approxNDCGLoss', ours: 'approx_ndcg' },
  { title: 'approxNDCGLoss α=10', fn: 'approxNDCGLoss', kwargs: { alpha: 10 }, ours: 'approx_ndcg', options: { alpha: 10 } },
  { title: 'neuralNDCG', fn: 'neuralNDCG', ours: 'neural_ndcg', padEnd: true },
  { title: 'neuralNDCG τ=0.5 k=3', fn: 'neuralNDCG', kwargs: { temperature: 0.5, k: 3 }, ours: 'neural_ndcg', options: { temperature: 0.5, k: 3 }, padEnd: true },
];

/** The same batches as before: peerBatch draws in the same order. */
function batch(kind: 'graded' | 'distinct', seed: number, padEnd = false) {
  return peerBatch(seed, padEnd ? 'end' : 'anywhere', kind);
}

describe('losses: allRank-style PyTorch cross-check', function () {
  this.timeout(300000);
  before(function () {
    if (!peerAvailable()) this.skip();
  });

  it('values and gradients agree (float64 PyTorch vs float32 here: 2e-5 + 1e-4·|x|)', () => {
    const inputs = PEER_CASES.map((c, i) => ({ c, ...batch(c.labels ?? 'graded', 100 + i, c.padEnd) }));
    const peer = JSON.parse(
      runPeer(PY_ALLRANK, [JSON.stringify(inputs.map(({ c, S, Y }) => ({ fn: c.fn, kwargs: c.kwargs ?? {}, scores: S, labels: Y })))]),
    ) as Array<{ loss: number; grad: Matrix }>;
    inputs.forEach(({ c, S, Y, M }, i) => {
      const got = evaluate(getLoss(c.ours, c.options), S, Y, M);
      expectClose([got.loss], [peer[i].loss], 2e-5, 1e-4, `${c.title}: loss`);
      expectClose(got.grad.flat(), peer[i].grad.flat(), 2e-5, 1e-4, `${c.title}: gradient`);
    });
  });
});

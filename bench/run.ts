// `npm run bench`: rankdistill against PyTorch + transformers on the same machine, in the same run.
// Every case runs in its own process on each side (so the peak RSS is that case's), timed as the
// median of timed iterations after warm-up, in rounds (case by case, the two sides taking turns to go first);
// each side keeps its best round, which damps the noise of a shared machine. Reported per case:
// throughput ratio ours / PyTorch (> 1: faster than PyTorch), peak-memory ratio ours / PyTorch, and
// our run-to-run spread over the rounds (time and peak RSS: (max − min) / min). Results:
// bench/results/bench-<time>.json and bench/results/latest.json.
//
//   npm run bench [-- --quick] [-- --rounds N] [-- --only PATTERN[,PATTERN…]] [-- --skip PATTERN[,…]] [-- --threads N] [-- --profile]
//
// --only keeps the cases whose id contains one of the patterns (`*` matches anything), --skip drops
// them: `--only minilm`, `--only 'bert-train/*s256'`, `--only bert --skip @,base`. --threads sets
// the compute threads of both sides (default: one per core). --baseline DIR also runs every case
// with another checkout of rankdistill (e.g. the main branch) for before/after columns. --profile runs each selected case once per side and
// prints the per-kernel table of one step (count, total ms, share): ours from tf.profile, PyTorch's
// from torch.profiler.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend, CrossEncoder, getLoss, readBm25Json } from 'rankdistill';
import { TextTokenizer } from 'rankdistill/tokenization';
import { bertStep, formatProfile, hfBert, profileStep, type BertShape, type StepProfile } from './profile.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.basename(path.dirname(here)) === 'dist' ? path.resolve(here, '..', '..') : path.resolve(here, '..');
const dataDir = path.resolve(process.env.RANKDISTILL_DATA ?? path.join(root, '..', 'shared', 'data'));

interface Case {
  id: string;
  kind: 'bert-infer' | 'bert-train' | 'loss' | 'rerank';
  what: string;
  config: Record<string, unknown>;
  warmup: number;
  iters: number;
  /** Items processed per iteration (pairs or lists), for throughput. */
  items: number;
  /** Our backend for this case when not the default (the peer is always PyTorch on the CPU). */
  backend?: 'wasm' | 'cpu';
}

const TINY = { hidden: 128, layers: 2, heads: 2, intermediate: 512 }; // ms-marco-TinyBERT-L-2-v2
const MINI = { hidden: 256, layers: 4, heads: 4, intermediate: 1024 }; // MiniLM-L4-H256-like
const BASE2 = { hidden: 768, layers: 2, heads: 12, intermediate: 3072 }; // two BERT-base layers
const MINILM = { hidden: 384, layers: 6, heads: 12, intermediate: 1536 }; // all-MiniLM-L6-v2, the demo's student
const BASE = { hidden: 768, layers: 12, heads: 12, intermediate: 3072 }; // BERT-base (monoBERT size)

function cases(quick: boolean): Case[] {
  const it = (n: number) => (quick ? Math.max(2, Math.ceil(n / 3)) : n);
  const bert = (kind: 'bert-infer' | 'bert-train', name: string, shape: object, seq: number, batch: number, iters: number, warmup = 2): Case => ({
    id: `${kind}/${name}-s${seq}-b${batch}`,
    kind,
    what: `${kind === 'bert-infer' ? 'forward, eval mode' : 'train step: forward + backward + clip + AdamW'} ${name} seq ${seq}, ${batch} pairs${kind === 'bert-train' ? ` (${batch / 8} lists of 8)` : ''}`,
    config: { ...shape, seq, batch },
    warmup,
    iters: it(iters),
    items: batch,
  });
  const loss = (name: string, lists: number, listSize: number): Case => ({
    id: `loss/${name}-${lists}x${listSize}`,
    kind: 'loss',
    what: `${name} value + gradient, ${lists} lists of ${listSize}`,
    config: { loss: name, lists, listSize },
    warmup: 3,
    iters: it(30),
    items: lists,
  });
  const other = (backend: 'wasm' | 'cpu', kind: 'bert-infer' | 'bert-train'): Case => ({
    ...bert(kind, 'tinybert-l2', TINY, 128, 8, 2),
    id: `${kind}/tinybert-l2-s128-b8@${backend}`,
    backend,
    warmup: 1,
  });
  return [
    bert('bert-infer', 'tinybert-l2', TINY, 128, 64, 10),
    bert('bert-infer', 'tinybert-l2', TINY, 256, 32, 10),
    bert('bert-train', 'tinybert-l2', TINY, 128, 32, 10),
    bert('bert-train', 'tinybert-l2', TINY, 256, 16, 10),
    bert('bert-infer', 'mini-l4-h256', MINI, 128, 32, 8),
    bert('bert-infer', 'mini-l4-h256', MINI, 256, 16, 8),
    bert('bert-train', 'mini-l4-h256', MINI, 128, 16, 8),
    bert('bert-train', 'mini-l4-h256', MINI, 256, 8, 8),
    bert('bert-infer', 'base-2layers', BASE2, 128, 16, 5),
    bert('bert-infer', 'base-2layers', BASE2, 256, 8, 5),
    bert('bert-train', 'base-2layers', BASE2, 128, 8, 4),
    bert('bert-train', 'base-2layers', BASE2, 256, 4, 4),
    bert('bert-infer', 'minilm-l6', MINILM, 128, 64, 6),
    bert('bert-infer', 'minilm-l6', MINILM, 256, 32, 6),
    bert('bert-train', 'minilm-l6', MINILM, 128, 32, 5),
    bert('bert-train', 'minilm-l6', MINILM, 256, 16, 5),
    // One warm-up step: the first builds the optimiser state and the allocator's pools.
    bert('bert-train', 'base', BASE, 256, 8, 2, 1),
    bert('bert-train', 'base', BASE, 128, 16, 2, 1),
    // Gradient checkpointing on both sides (HF: gradient_checkpointing_enable()).
    bert('bert-train', 'base-ckpt', { ...BASE, checkpointing: true }, 256, 8, 2, 1),
    loss('ranknet', 32, 30),
    loss('softmax_cross_entropy', 32, 30),
    loss('ranknet', 16, 100),
    {
      id: 'rerank/tinybert-l2-dl19-top100',
      kind: 'rerank',
      what: "rerank one DL19 query's BM25 top-100 from text: tokenize + score (sentence-transformers CrossEncoder.predict on the peer)",
      config: { seq: 256, batch: 32 },
      warmup: 1,
      iters: it(6),
      items: 100,
    },
    other('wasm', 'bert-infer'),
    other('wasm', 'bert-train'),
    other('cpu', 'bert-infer'),
    other('cpu', 'bert-train'),
  ];
}

async function timed(fn: () => Promise<void>, warmup: number, iters: number): Promise<number> {
  for (let i = 0; i < warmup; i++) await fn();
  const ms: number[] = [];
  for (let i = 0; i < iters; i++) {
    const t = performance.now();
    await fn();
    ms.push(performance.now() - t);
  }
  ms.sort((a, b) => a - b);
  return ms.length % 2 ? ms[(ms.length - 1) / 2] : (ms[ms.length / 2 - 1] + ms[ms.length / 2]) / 2;
}

interface Runner {
  run(): Promise<void>;
  dispose(): void;
}

/** One iteration of a case on our side, ready to time or profile. */
async function oursRunner(c: Case, rerankSetup: RerankSetup): Promise<Runner> {
  if (c.kind === 'bert-infer' || c.kind === 'bert-train') return bertStep(c.config as unknown as BertShape, c.kind === 'bert-train');
  if (c.kind === 'loss') {
    const { loss, lists, listSize } = c.config as { loss: string; lists: number; listSize: number };
    let s = 7;
    const rnd = () => ((s = (s * 1103515245 + 12345) >>> 0) / 2 ** 32);
    const scores = tf.tensor2d(Array.from({ length: lists * listSize }, () => rnd() * 4 - 2), [lists, listSize]);
    const labels = tf.tensor2d(Array.from({ length: lists * listSize }, () => Math.floor(rnd() * 4)), [lists, listSize]);
    const mask = tf.onesLike(labels) as tf.Tensor2D;
    const fn = getLoss(loss);
    return {
      run: async () => {
        const g = tf.grad((x: tf.Tensor) => fn(x as tf.Tensor2D, labels, mask).loss)(scores);
        await g.data();
        g.dispose();
      },
      dispose: () => tf.dispose([scores, labels, mask]),
    };
  }
  const { seq, batch } = c.config as { seq: number; batch: number };
  const model = await CrossEncoder.fromPretrained(rerankSetup.modelDir, { maxLength: seq });
  const pairs = JSON.parse(fs.readFileSync(rerankSetup.pairsFile, 'utf8')) as Array<[string, string]>;
  return {
    run: async () => {
      await model.score(pairs, { batchSize: batch });
    },
    dispose: () => model.dispose(),
  };
}

interface RerankSetup {
  modelDir: string;
  pairsFile: string;
}

/** A TinyBERT-shaped cross-encoder with the real MS MARCO tokenizer, saved in HF layout for both sides. */
async function setupRerank(tmp: string): Promise<RerankSetup> {
  const tokDir = path.join(dataDir, 'ms-marco-TinyBERT-L-2-v2-tokenizer-config');
  const model = new CrossEncoder({ ...hfBert(TINY), max_position_embeddings: 512 }, { tokenizer: TextTokenizer.fromDir(tokDir, { maxLength: 256 }), maxLength: 256 });
  const modelDir = path.join(tmp, 'tinybert');
  await model.save(modelDir);
  model.dispose();
  const lists = await readBm25Json(path.join(dataDir, 'trec-dl-2019-passage', 'bm25-top100.json'));
  const first = lists[0];
  const pairs = first.hits.slice(0, 100).map((h) => [first.query, h.text] as [string, string]);
  const pairsFile = path.join(tmp, 'pairs.json');
  fs.writeFileSync(pairsFile, JSON.stringify(pairs));
  return { modelDir, pairsFile };
}

interface Measured {
  ms: number;
  peakRssMb: number;
  /** The tensor backend the child ran on (ours only). */
  backend?: string;
  /** --profile: one step's kernels (ours: tf.profile; PyTorch: torch.profiler, self CPU time). */
  profile?: StepProfile;
}

/** A case that fails or runs past the per-case limit is reported, not fatal. */
const CASE_TIMEOUT_MS = Number(process.env.BENCH_CASE_TIMEOUT_S ?? 600) * 1000;

function parseChild(r: ReturnType<typeof spawnSync>, who: string, backend?: string): Measured | null {
  if (r.status !== 0) {
    const why = r.error ? String(r.error.message) : `exit ${r.status}: ${String(r.stderr).slice(-500)}`;
    process.stderr.write(`  ${who} did not finish (${why})\n`);
    return null;
  }
  const lines = String(r.stdout).trim().split('\n');
  const m = JSON.parse(lines[lines.length - 1]) as Measured;
  // A child that fell back to another backend (e.g. tfjs-node missing for a moment) measures something else.
  if (backend && m.backend && m.backend !== backend) {
    process.stderr.write(`  ${who} ran on ${m.backend}, not ${backend}: not counted\n`);
    return null;
  }
  return m;
}

function peer(python: string, c: Case, setup: RerankSetup, threads: number, profile: boolean): Measured | null {
  const input = { ...c, profile, config: c.kind === 'rerank' ? { ...c.config, modelDir: setup.modelDir, pairsFile: setup.pairsFile } : c.config };
  const r = spawnSync(python, [path.join(root, 'bench', 'peer', 'bench_peer.py'), String(threads)], {
    input: JSON.stringify(input),
    encoding: 'utf8',
    maxBuffer: 64 << 20,
    timeout: CASE_TIMEOUT_MS,
    env: { ...process.env, OMP_NUM_THREADS: String(threads), TRANSFORMERS_VERBOSITY: 'error', TOKENIZERS_PARALLELISM: 'false' },
  });
  return parseChild(r, `PyTorch peer (${c.id})`);
}

/**
 * Runs one case of ours in a fresh process (the same entry point, with --child), or of another
 * checkout of rankdistill (`--baseline DIR`: its bench/run.ts through tsx, in that directory).
 */
function oursInChild(c: Case, setup: RerankSetup, threads: number, profile: boolean, expectBackend: string, baseline?: string): Measured | null {
  const entry = baseline ? ['--import', 'tsx', path.join(baseline, 'bench', 'run.ts')] : [...process.execArgv, process.argv[1]];
  const r = spawnSync(process.execPath, [...entry, '--child', JSON.stringify({ c, setup, profile })], {
    cwd: baseline,
    encoding: 'utf8',
    maxBuffer: 64 << 20,
    timeout: CASE_TIMEOUT_MS,
    env: { ...process.env, TF_NUM_INTRAOP_THREADS: String(threads), ...(c.backend ? { RANKDISTILL_BACKEND: c.backend } : {}) },
  });
  return parseChild(r, `rankdistill${baseline ? ` baseline ${baseline}` : ''} (${c.id})`, c.backend ?? expectBackend);
}

async function child(arg: string): Promise<void> {
  const { c, setup, profile } = JSON.parse(arg) as { c: Case; setup: RerankSetup; profile: boolean };
  await initBackend();
  const runner = await oursRunner(c, setup);
  try {
    if (profile) {
      const p = await profileStep(runner.run, c.warmup);
      console.log(JSON.stringify({ ms: p.wallMs, peakRssMb: process.resourceUsage().maxRSS / 1024, backend: tf.getBackend(), profile: p }));
      return;
    }
    const ms = await timed(runner.run, c.warmup, c.iters);
    console.log(JSON.stringify({ ms, peakRssMb: process.resourceUsage().maxRSS / 1024, backend: tf.getBackend() }));
  } finally {
    runner.dispose();
  }
}

/** `--only` / `--skip` patterns: substrings of case ids, `*` matching anything. */
function caseFilter(only: string | undefined, skip: string | undefined): (id: string) => boolean {
  const compile = (list: string) => list.split(',').filter(Boolean).map((p) => new RegExp(p.split('*').map((s) => s.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('.*')));
  const keep = only ? compile(only) : null;
  const drop = skip ? compile(skip) : [];
  return (id) => (!keep || keep.some((re) => re.test(id))) && !drop.some((re) => re.test(id));
}

/** (max − min) / min of a side's per-round values: our run-to-run spread. */
function spread(xs: number[]): number {
  const ok = xs.filter(Number.isFinite);
  if (ok.length < 2) return NaN;
  return (Math.max(...ok) - Math.min(...ok)) / Math.min(...ok);
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      quick: { type: 'boolean', default: false }, rounds: { type: 'string', default: '3' }, only: { type: 'string' }, skip: { type: 'string' },
      out: { type: 'string' }, child: { type: 'string' }, profile: { type: 'boolean', default: false }, threads: { type: 'string' },
      baseline: { type: 'string' },
    },
  });
  if (values.child) return child(values.child);
  const info = await initBackend();
  // Both sides get the same number of compute threads (default: TensorFlow's, one per core).
  const threads = Number(values.threads ?? info.threads ?? os.cpus().length);
  const keepCase = caseFilter(values.only, values.skip);
  const list = cases(values.quick!).filter((c) => keepCase(c.id));
  if (!list.length) throw new Error(`--only ${values.only}: no case matches (ids: ${cases(false).map((c) => c.id).join(', ')})`);
  if (!fs.existsSync(dataDir)) throw new Error(`data directory ${dataDir} not found: set RANKDISTILL_DATA`);
  // Loaded by path: the script is not compiled into dist/.
  const { ensurePeer } = (await import(pathToFileURL(path.join(root, 'scripts', 'peer-venv.mjs')).href)) as { ensurePeer: (o: { quiet: boolean }) => string };
  const python = ensurePeer({ quiet: false });
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'rankdistill-bench-'));
  const setup = await setupRerank(tmp);
  if (values.profile) {
    for (const c of list) {
      const o = oursInChild(c, setup, threads, true, info.backend);
      const p = peer(python, c, setup, threads, true);
      console.log(`\n== ${c.id}: ${c.what}`);
      if (o?.profile) console.log(formatProfile(`rankdistill (${c.backend ?? info.backend}), peak RSS ${o.peakRssMb.toFixed(0)} MB`, o.profile));
      if (p?.profile) console.log(formatProfile(`PyTorch (torch.profiler, self CPU time), peak RSS ${p.peakRssMb.toFixed(0)} MB`, p.profile));
    }
    fs.rmSync(tmp, { recursive: true, force: true });
    return;
  }
  const rounds = Number(values.rounds);
  const baseline = values.baseline ? path.resolve(values.baseline) : undefined;
  if (baseline && !fs.existsSync(path.join(baseline, 'bench', 'run.ts'))) throw new Error(`--baseline ${baseline}: no bench/run.ts there`);
  const seen = new Map<string, { ours: Array<Measured | null>; peer: Array<Measured | null>; base: Array<Measured | null> }>();
  console.log(`rankdistill bench: ${info.backend} (${info.package}@${info.version}, TF ${info.tensorflow ?? '-'}, ${threads} threads) vs PyTorch; ${list.length} cases × ${rounds} rounds`);
  for (let r = 0; r < rounds; r++) {
    for (const c of list) {
      // Alternate which side goes first, so neither always meets the other's leftovers.
      let o: Measured | null;
      let p: Measured | null;
      let b: Measured | null = null;
      if (r % 2 === 0) {
        o = oursInChild(c, setup, threads, false, info.backend);
        p = peer(python, c, setup, threads, false);
        if (baseline) b = oursInChild(c, setup, threads, false, info.backend, baseline);
      } else {
        if (baseline) b = oursInChild(c, setup, threads, false, info.backend, baseline);
        p = peer(python, c, setup, threads, false);
        o = oursInChild(c, setup, threads, false, info.backend);
      }
      const e = seen.get(c.id) ?? { ours: [], peer: [], base: [] };
      e.ours.push(o);
      e.peer.push(p);
      e.base.push(b);
      seen.set(c.id, e);
      const show = (m: Measured | null) => (m ? `${m.ms.toFixed(1)} ms ${m.peakRssMb.toFixed(0)} MB` : 'did not finish');
      process.stderr.write(`  round ${r + 1} ${c.id}: ours ${show(o)}, torch ${show(p)}${baseline ? `, baseline ${show(b)}` : ''}\n`);
    }
  }
  fs.rmSync(tmp, { recursive: true, force: true });
  const torchVersion = spawnSync(python, ['-c', 'import torch, transformers; print(torch.__version__, transformers.__version__)'], { encoding: 'utf8' }).stdout.trim().split(' ');
  const results = list.map((c) => {
    const e = seen.get(c.id)!;
    const ms = (xs: Array<Measured | null>) => xs.map((m) => m?.ms ?? NaN);
    const mb = (xs: Array<Measured | null>) => xs.map((m) => m?.peakRssMb ?? NaN);
    const best = (xs: number[]) => Math.min(...xs.filter(Number.isFinite), Infinity);
    const peak = (xs: number[]) => Math.max(...xs.filter(Number.isFinite), 0);
    const [oMs, pMs] = [best(ms(e.ours)), best(ms(e.peer))];
    const [oMb, pMb] = [peak(mb(e.ours)), peak(mb(e.peer))];
    return {
      id: c.id, what: c.what, backend: c.backend ?? info.backend, config: c.config, items_per_iteration: c.items,
      ours_ms: round(oMs), pytorch_ms: round(pMs),
      ours_items_per_s: round((c.items * 1000) / oMs), pytorch_items_per_s: round((c.items * 1000) / pMs),
      speed_ratio: Number.isFinite(oMs + pMs) ? round(pMs / oMs, 3) : NaN,
      ours_peak_rss_mb: round(oMb, 0), pytorch_peak_rss_mb: round(pMb, 0),
      memory_ratio: oMb > 0 && pMb > 0 ? round(oMb / pMb, 3) : NaN,
      ours_ms_rounds: ms(e.ours).map((x) => round(x)), pytorch_ms_rounds: ms(e.peer).map((x) => round(x)),
      ours_rss_mb_rounds: mb(e.ours).map((x) => round(x, 0)), pytorch_rss_mb_rounds: mb(e.peer).map((x) => round(x, 0)),
      ours_time_spread: round(spread(ms(e.ours)), 3), ours_rss_spread: round(spread(mb(e.ours)), 3),
      pytorch_time_spread: round(spread(ms(e.peer)), 3),
      ...(baseline
        ? {
            baseline_ms: round(best(ms(e.base))), baseline_peak_rss_mb: round(peak(mb(e.base)), 0),
            baseline_ms_rounds: ms(e.base).map((x) => round(x)), baseline_rss_mb_rounds: mb(e.base).map((x) => round(x, 0)),
          }
        : {}),
    };
  });
  const native = results.filter((r) => !list.find((c) => c.id === r.id)!.backend && Number.isFinite(r.speed_ratio));
  const geomean = (xs: number[]) => round(Math.exp(xs.reduce((a, x) => a + Math.log(x), 0) / xs.length), 3);
  const report = {
    date: new Date().toISOString(),
    machine: { cpus: os.cpus().length, cpu: os.cpus()[0]?.model, node: process.version, loadavg: os.loadavg() },
    ours: { backend: info.backend, package: `${info.package}@${info.version}`, tensorflow: info.tensorflow, threads },
    peer: { torch: torchVersion[0], transformers: torchVersion[1], threads },
    baseline: baseline ?? null,
    method: `each case in its own process per side; median of timed iterations after warm-up; ${rounds} rounds, sides alternating which goes first; time = best round, peak RSS = largest round; speed_ratio = PyTorch ms / ours ms (> 1: we are faster); memory_ratio = our peak RSS / PyTorch's; spread = (max - min) / min over the rounds`,
    results,
    geomean_speed_ratio_native: geomean(native.map((r) => r.speed_ratio)),
    geomean_memory_ratio_native: geomean(native.filter((r) => Number.isFinite(r.memory_ratio)).map((r) => r.memory_ratio)),
  };
  const outDir = path.join(root, 'bench', 'results');
  fs.mkdirSync(outDir, { recursive: true });
  const file = values.out ?? path.join(outDir, `bench-${report.date.replace(/[:.]/g, '-')}.json`);
  fs.writeFileSync(file, `${JSON.stringify(report, null, 2)}\n`);
  fs.writeFileSync(path.join(outDir, 'latest.json'), `${JSON.stringify(report, null, 2)}\n`);
  const w = Math.max(...results.map((r) => r.id.length));
  const pct = (x: number) => (Number.isFinite(x) ? `${(100 * x).toFixed(0)}%` : '-');
  const bHead = baseline ? `  ${'base ms'.padStart(9)}  ${'base MB'.padStart(8)}` : '';
  console.log(`\n${'case'.padEnd(w)}  ${'ours ms'.padStart(9)}  ${'torch ms'.padStart(9)}  speed×  ${'ours MB'.padStart(8)}  ${'torch MB'.padStart(8)}  mem×  spread ms/MB${bHead}`);
  for (const r of results) {
    const bCols = baseline ? `  ${(r.baseline_ms ?? NaN).toFixed(1).padStart(9)}  ${String(r.baseline_peak_rss_mb).padStart(8)}` : '';
    console.log(
      `${r.id.padEnd(w)}  ${r.ours_ms.toFixed(1).padStart(9)}  ${r.pytorch_ms.toFixed(1).padStart(9)}  ${r.speed_ratio.toFixed(2).padStart(6)}  ` +
        `${String(r.ours_peak_rss_mb).padStart(8)}  ${String(r.pytorch_peak_rss_mb).padStart(8)}  ${r.memory_ratio.toFixed(2)}  ${`${pct(r.ours_time_spread)}/${pct(r.ours_rss_spread)}`.padStart(12)}${bCols}`,
    );
  }
  console.log(`native backend, geometric means: speed ×${report.geomean_speed_ratio_native} (> 1: faster than PyTorch), memory ×${report.geomean_memory_ratio_native}\nwritten: ${file}`);
}

function round(x: number, d = 2): number {
  const f = 10 ** d;
  return Math.round(x * f) / f;
}

main().catch((e: unknown) => {
  console.error(e instanceof Error ? e.message : e);
  process.exit(1);
});

// Per-kernel profile of one cross-encoder train step (or forward pass) on the active backend: where
// the time goes, to plan optimisations and to see where each one paid. Also the step itself, shared
// with `npm run bench` (bench/run.ts), so the profile and the benchmark time the same work.
//
//   npx tsx bench/profile.ts [--hidden 384 --layers 6 --heads 12 --intermediate 1536 --seq 128 --batch 16 --infer]
//   npm run bench -- --profile --only minilm     (the same table for benchmark cases, next to PyTorch's)
//
// Kernel times come from tf.profile (the backend's own timer around each kernel). "outside kernels"
// = wall time of the step minus kernel time: JS dispatch, the tape, random numbers made in JS.
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend, CrossEncoder } from 'rankdistill';
import { AdamW, clipByGlobalNorm } from 'rankdistill/training';

export interface BertShape {
  hidden: number;
  layers: number;
  heads: number;
  intermediate: number;
  seq: number;
  batch: number;
  /** Per-layer activation recomputation (gradient checkpointing) in train steps. */
  checkpointing?: boolean;
}

export function hfBert(s: { hidden: number; layers: number; heads: number; intermediate: number }) {
  return { vocab_size: 30522, hidden_size: s.hidden, num_hidden_layers: s.layers, num_attention_heads: s.heads, intermediate_size: s.intermediate, num_labels: 1 };
}

/** Deterministic token ids in the vocabulary's ordinary range, all pairs full length. */
export function bertInputs(c: BertShape) {
  let s = 1;
  const ids = Array.from({ length: c.batch * c.seq }, () => 1000 + ((s = (s * 1103515245 + 12345) >>> 0) % 29000));
  return {
    inputIds: tf.tensor2d(ids, [c.batch, c.seq], 'int32'),
    attentionMask: tf.ones([c.batch, c.seq], 'int32') as tf.Tensor2D,
    tokenTypeIds: tf.zeros([c.batch, c.seq], 'int32') as tf.Tensor2D,
  };
}

export interface BertStep {
  /** One forward pass (eval) or one train step: forward + backward + clip 1.0 + AdamW. */
  run(): Promise<void>;
  dispose(): void;
}

/**
 * The benchmarked BERT step: a BertForSequenceClassification-shaped cross-encoder with one logit,
 * loss mean(logit²) (what the PyTorch side computes), torch's clip_grad_norm_ and AdamW.
 */
export function bertStep(c: BertShape, train: boolean): BertStep {
  const model = new CrossEncoder({ ...hfBert(c), max_position_embeddings: 512 });
  if (c.checkpointing) model.bert.gradientCheckpointing = true;
  const x = bertInputs(c);
  const vars = model.trainableVariables();
  const byTf = new Map([...vars].map(([n, v]) => [v.name, n]));
  const opt = new AdamW({ lr: 1e-5, weightDecay: 0.01 });
  const infer = async () => {
    const out = tf.tidy(() => tf.sum(model.logits(x, false)));
    await out.data();
    out.dispose();
  };
  const step = async () => {
    const { value, grads } = tf.variableGrads(() => tf.mean(tf.square(model.logits(x, true))) as tf.Scalar, [...vars.values()]);
    const named = new Map(Object.entries(grads).map(([k, g]) => [byTf.get(k)!, g]));
    const clipped = clipByGlobalNorm(named, 1.0);
    tf.dispose(Object.values(grads));
    opt.apply(vars, clipped.grads, 1e-5);
    tf.dispose([...clipped.grads.values()]);
    await value.data();
    value.dispose();
  };
  return {
    run: train ? step : infer,
    dispose: () => {
      tf.dispose(Object.values(x));
      opt.dispose();
      model.dispose();
    },
  };
}

export interface KernelRow {
  name: string;
  count: number;
  ms: number;
}

export interface StepProfile {
  wallMs: number;
  kernels: number;
  kernelMs: number;
  rows: KernelRow[];
}

/** Profiles one call of `fn` (after `warmup` unprofiled calls): kernels grouped by name, by time. */
export async function profileStep(fn: () => Promise<void>, warmup = 2): Promise<StepProfile> {
  for (let i = 0; i < warmup; i++) await fn();
  const t0 = performance.now();
  await fn();
  const wallMs = performance.now() - t0;
  const prof = await tf.profile(fn);
  const by = new Map<string, KernelRow>();
  const backend = tf.getBackend();
  // tf.profile also lists custom-gradient scopes, whose time is that of the kernels inside them.
  const kernels = prof.kernels.filter((k) => tf.getKernel(k.name, backend) !== undefined);
  for (const k of kernels) {
    const e = by.get(k.name) ?? { name: k.name, count: 0, ms: 0 };
    e.ms += typeof k.kernelTimeMs === 'number' ? k.kernelTimeMs : 0;
    e.count += 1;
    by.set(k.name, e);
  }
  const rows = [...by.values()].sort((a, b) => b.ms - a.ms);
  return { wallMs, kernels: kernels.length, kernelMs: rows.reduce((a, r) => a + r.ms, 0), rows };
}

/** The per-kernel table: count, total ms, share of kernel time. */
export function formatProfile(title: string, p: StepProfile, top = 25): string {
  const lines = [
    `${title}: wall ${p.wallMs.toFixed(1)} ms, ${p.kernels} kernels, ${p.kernelMs.toFixed(1)} ms in kernels, ${Math.max(0, p.wallMs - p.kernelMs).toFixed(1)} ms outside`,
    `  ${'kernel'.padEnd(26)} ${'count'.padStart(6)} ${'total ms'.padStart(10)} ${'share'.padStart(7)}`,
  ];
  for (const r of p.rows.slice(0, top)) {
    lines.push(`  ${r.name.padEnd(26)} ${String(r.count).padStart(6)} ${r.ms.toFixed(1).padStart(10)} ${((100 * r.ms) / (p.kernelMs || 1)).toFixed(1).padStart(6)}%`);
  }
  if (p.rows.length > top) {
    const rest = p.rows.slice(top);
    lines.push(`  ${`(${rest.length} more)`.padEnd(26)} ${String(rest.reduce((a, r) => a + r.count, 0)).padStart(6)} ${rest.reduce((a, r) => a + r.ms, 0).toFixed(1).padStart(10)}`);
  }
  return lines.join('\n');
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      hidden: { type: 'string', default: '128' }, layers: { type: 'string', default: '2' }, heads: { type: 'string' },
      intermediate: { type: 'string' }, seq: { type: 'string', default: '128' }, batch: { type: 'string', default: '32' },
      infer: { type: 'boolean', default: false }, checkpointing: { type: 'boolean', default: false },
    },
  });
  const info = await initBackend();
  const H = Number(values.hidden);
  const shape: BertShape = {
    hidden: H, layers: Number(values.layers), heads: Number(values.heads ?? Math.max(1, H / 64)),
    intermediate: Number(values.intermediate ?? 4 * H), seq: Number(values.seq), batch: Number(values.batch),
    checkpointing: values.checkpointing,
  };
  const step = bertStep(shape, !values.infer);
  try {
    const p = await profileStep(step.run);
    const what = values.infer ? 'forward' : `train step${shape.checkpointing ? ' (checkpointing)' : ''}`;
    console.log(formatProfile(`${info.backend}: ${what} H=${H} L=${shape.layers} heads=${shape.heads} I=${shape.intermediate} S=${shape.seq} B=${shape.batch}`, p));
    console.log(`peak RSS ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MB`);
  } finally {
    step.dispose();
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  main().catch((e: unknown) => {
    console.error(e instanceof Error ? e.message : e);
    process.exit(1);
  });
}

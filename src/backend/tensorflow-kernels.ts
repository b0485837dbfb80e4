// Native implementations of the fused kernels (fused.ts) for tfjs-node's `tensorflow` backend. The
// binding runs any TensorFlow eager op by name; a kernel here runs its ops back to back on raw
// tensor handles and frees each intermediate as soon as it is used, so one kernel costs one trip
// through tfjs (tape, scopes, tensor tracking) instead of one per op, and keeps fewer buffers alive.
// TensorFlow's C API offers no fused LayerNorm/GELU/matMul+bias+activation that eager mode can call
// here (_FusedMatMul needs a string-list attribute the binding cannot pass; _MklLayerNorm has no
// eager kernel; FusedBatchNormV3 with rows as channels was measured slower than the ops below).
import * as tf from '@tensorflow/tfjs-core';
import { FUSED_KERNELS, type FusedActivation } from './fused.js';

interface Meta {
  id: number;
  shape: number[];
  dtype: number;
}

interface Attr {
  name: string;
  type: number;
  value: unknown;
}

interface Binding {
  executeOp(name: string, attrs: Attr[], inputs: number[], numOutputs: number): Meta[];
  createTensor(shape: number[], dtype: number, values: Float32Array | Int32Array): number;
  deleteTensor(id: number): void;
  TF_FLOAT: number;
  TF_INT32: number;
  TF_BOOL: number;
  TF_ATTR_STRING: number;
  TF_ATTR_INT: number;
  TF_ATTR_FLOAT: number;
  TF_ATTR_BOOL: number;
  TF_ATTR_TYPE: number;
}

// TF_DataType values the binding does not export.
const TF_UINT16 = 17;
const TF_UINT32 = 22;

interface NodeBackend {
  binding: Binding;
  getInputTensorIds(tensors: tf.TensorInfo[]): number[];
  createOutputTensor(meta: Meta): tf.Tensor;
}

/** Long-lived constant handles (scalars, shapes, axes), created once per value. */
class Constants {
  private readonly cache = new Map<string, Meta>();
  constructor(private readonly b: Binding) {}

  scalar(v: number): Meta {
    return this.get(`f${v}`, () => ({ id: this.b.createTensor([], this.b.TF_FLOAT, Float32Array.of(v)), shape: [], dtype: this.b.TF_FLOAT }));
  }

  /** A uint16 scalar (created as int32 and cast, the binding only writes float/int32/bool). */
  uint16(v: number): Meta {
    return this.get(`u16:${v}`, () => {
      const i = this.b.createTensor([], this.b.TF_INT32, Int32Array.of(v));
      const [m] = this.b.executeOp('Cast', [
        { name: 'SrcT', type: this.b.TF_ATTR_TYPE, value: this.b.TF_INT32 },
        { name: 'DstT', type: this.b.TF_ATTR_TYPE, value: TF_UINT16 },
        { name: 'Truncate', type: this.b.TF_ATTR_BOOL, value: false },
      ], [i], 1);
      this.b.deleteTensor(i);
      return m;
    });
  }

  ints(v: number[]): Meta {
    return this.get(`i${v.join(',')}`, () => ({ id: this.b.createTensor([v.length], this.b.TF_INT32, Int32Array.from(v)), shape: [v.length], dtype: this.b.TF_INT32 }));
  }

  private get(key: string, make: () => Meta): Meta {
    let m = this.cache.get(key);
    if (!m) {
      // Shapes follow the batch shapes seen; a bound keeps a long run with varying shapes small.
      if (this.cache.size > 4096) this.clear();
      m = make();
      this.cache.set(key, m);
    }
    return m;
  }

  clear(): void {
    for (const m of this.cache.values()) this.b.deleteTensor(m.id);
    this.cache.clear();
  }
}

/** One kernel's ops: handles it creates are freed when used up, or at the end, unless returned. */
class Ops {
  private readonly temps = new Set<number>();
  readonly T: Attr;

  constructor(
    readonly be: NodeBackend,
    readonly c: Constants,
  ) {
    this.T = this.type('T', be.binding.TF_FLOAT);
  }

  type(name: string, value: number): Attr {
    return { name, type: this.be.binding.TF_ATTR_TYPE, value };
  }

  bool(name: string, value: boolean): Attr {
    return { name, type: this.be.binding.TF_ATTR_BOOL, value };
  }

  int(name: string, value: number): Attr {
    return { name, type: this.be.binding.TF_ATTR_INT, value };
  }

  str(name: string, value: string): Attr {
    return { name, type: this.be.binding.TF_ATTR_STRING, value };
  }

  input(t: tf.TensorInfo): Meta {
    if (t.dtype !== 'float32' && t.dtype !== 'bool') throw new Error(`fused kernels take float32 tensors, got ${t.dtype}`);
    const [id] = this.be.getInputTensorIds([t]);
    return { id, shape: t.shape, dtype: t.dtype === 'bool' ? this.be.binding.TF_BOOL : this.be.binding.TF_FLOAT };
  }

  /** A short-lived int32 vector (freed with the kernel's other intermediates). */
  intsTemp(v: number[]): Meta {
    const b = this.be.binding;
    const id = b.createTensor([v.length], b.TF_INT32, Int32Array.from(v));
    this.temps.add(id);
    return { id, shape: [v.length], dtype: b.TF_INT32 };
  }

  run(name: string, attrs: Attr[], inputs: Meta[], n = 1): Meta[] {
    const out = this.be.binding.executeOp(name, attrs, inputs.map((m) => m.id), n);
    for (const m of out) this.temps.add(m.id);
    return out;
  }

  one(name: string, attrs: Attr[], inputs: Meta[]): Meta {
    return this.run(name, attrs, inputs, 1)[0];
  }

  /** Elementwise op on float tensors (T attribute only). */
  ew(name: string, ...inputs: Meta[]): Meta {
    return this.one(name, [this.T], inputs);
  }

  /** Frees intermediates that are no longer needed (inputs of the kernel are left alone). */
  free(...ms: Array<Meta | null | undefined>): void {
    for (const m of ms) {
      if (m && this.temps.delete(m.id)) this.be.binding.deleteTensor(m.id);
    }
  }

  /** Hands an intermediate over to tfjs as a kernel output. */
  out(m: Meta): tf.Tensor {
    this.temps.delete(m.id);
    return this.be.createOutputTensor(m);
  }

  end(): void {
    for (const id of this.temps) this.be.binding.deleteTensor(id);
    this.temps.clear();
  }

  // Common ops.
  matMul(a: Meta, b: Meta, ta: boolean, tb: boolean): Meta {
    return this.one('MatMul', [this.T, this.bool('transpose_a', ta), this.bool('transpose_b', tb)], [a, b]);
  }

  batchMatMul(a: Meta, b: Meta, adjA: boolean, adjB: boolean): Meta {
    return this.one('BatchMatMulV2', [this.T, this.bool('adj_x', adjA), this.bool('adj_y', adjB)], [a, b]);
  }

  reduce(name: 'Mean' | 'Sum', x: Meta, axis: number, keepDims: boolean): Meta {
    return this.one(name, [this.T, this.type('Tidx', this.be.binding.TF_INT32), this.bool('keep_dims', keepDims)], [x, this.c.ints([axis])]);
  }

  reshape(x: Meta, shape: number[]): Meta {
    return this.one('Reshape', [this.T, this.type('Tshape', this.be.binding.TF_INT32)], [x, this.c.ints(shape)]);
  }

  transpose(x: Meta, perm: number[]): Meta {
    return this.one('Transpose', [this.T, this.type('Tperm', this.be.binding.TF_INT32)], [x, this.c.ints(perm)]);
  }

  biasAddGrad(dy: Meta): Meta {
    return this.one('BiasAddGrad', [this.T, this.str('data_format', 'NHWC')], [dy]);
  }

  /** keep ? x : 0 */
  select(keep: Meta, x: Meta): Meta {
    return this.one('SelectV2', [this.T], [keep, x, this.c.scalar(0)]);
  }

  scale(x: Meta, s: number): Meta {
    return this.ew('Mul', x, this.c.scalar(s));
  }
}

type KernelBody = (o: Ops, inputs: Record<string, tf.TensorInfo | undefined>, attrs: Record<string, unknown>) => tf.Tensor | tf.Tensor[];

/** Φ(x) = ½(1 + erf(x/√2)), the standard normal CDF. */
function normalCdf(o: Ops, x: Meta): Meta {
  const a = o.scale(x, Math.SQRT1_2);
  const e = o.ew('Erf', a);
  o.free(a);
  const h = o.scale(e, 0.5);
  o.free(e);
  const cdf = o.ew('AddV2', h, o.c.scalar(0.5));
  o.free(h);
  return cdf;
}

function geluGrad(o: Ops, dy: Meta, x: Meta): Meta {
  // f′(x) = Φ(x) + x·φ(x)
  const cdf = normalCdf(o, x);
  const x2 = o.ew('Square', x);
  const m = o.scale(x2, -0.5);
  o.free(x2);
  const ex = o.ew('Exp', m);
  o.free(m);
  const xe = o.ew('Mul', x, ex);
  o.free(ex);
  const xpdf = o.scale(xe, 1 / Math.sqrt(2 * Math.PI));
  o.free(xe);
  const d = o.ew('AddV2', cdf, xpdf);
  o.free(cdf, xpdf);
  const dx = o.ew('Mul', dy, d);
  o.free(d);
  return dx;
}

const GELU_C = 0.044715;
const SQRT_2_OVER_PI = Math.sqrt(2 / Math.PI);

/** tanh(√(2/π)(x + c·x³)) and x² for the tanh GELU. */
function geluTanhInner(o: Ops, x: Meta): { t: Meta; x2: Meta } {
  const x2 = o.ew('Square', x);
  const p = o.scale(x2, GELU_C);
  const p1 = o.ew('AddV2', p, o.c.scalar(1));
  o.free(p);
  const u0 = o.ew('Mul', x, p1);
  o.free(p1);
  const u = o.scale(u0, SQRT_2_OVER_PI);
  o.free(u0);
  const t = o.ew('Tanh', u);
  o.free(u);
  return { t, x2 };
}

function activation(o: Ops, x: Meta, kind: FusedActivation): Meta {
  switch (kind) {
    case 'gelu': {
      const cdf = normalCdf(o, x);
      const y = o.ew('Mul', x, cdf);
      o.free(cdf);
      return y;
    }
    case 'gelu_tanh': {
      const { t, x2 } = geluTanhInner(o, x);
      o.free(x2);
      const t1 = o.ew('AddV2', t, o.c.scalar(1));
      o.free(t);
      const hx = o.scale(x, 0.5);
      const y = o.ew('Mul', hx, t1);
      o.free(hx, t1);
      return y;
    }
    case 'relu':
      return o.ew('Relu', x);
    case 'silu': {
      const s = o.ew('Sigmoid', x);
      const y = o.ew('Mul', x, s);
      o.free(s);
      return y;
    }
    case 'tanh':
      return o.ew('Tanh', x);
  }
}

function activationGrad(o: Ops, dy: Meta, x: Meta, kind: FusedActivation): Meta {
  switch (kind) {
    case 'gelu':
      return geluGrad(o, dy, x);
    case 'gelu_tanh': {
      // f′ = ½(1 + t) + ½x(1 − t²)·√(2/π)(1 + 3c x²)
      const { t, x2 } = geluTanhInner(o, x);
      const a0 = o.ew('AddV2', t, o.c.scalar(1));
      const a = o.scale(a0, 0.5);
      o.free(a0);
      const t2 = o.ew('Square', t);
      o.free(t);
      const omt = o.ew('Sub', o.c.scalar(1), t2);
      o.free(t2);
      const q0 = o.scale(x2, 3 * GELU_C);
      o.free(x2);
      const q1 = o.ew('AddV2', q0, o.c.scalar(1));
      o.free(q0);
      const du = o.scale(q1, 0.5 * SQRT_2_OVER_PI);
      o.free(q1);
      const xd = o.ew('Mul', x, du);
      o.free(du);
      const b = o.ew('Mul', xd, omt);
      o.free(xd, omt);
      const d = o.ew('AddV2', a, b);
      o.free(a, b);
      const dx = o.ew('Mul', dy, d);
      o.free(d);
      return dx;
    }
    case 'relu':
      return o.ew('ReluGrad', dy, x);
    case 'silu': {
      // σ(x)·(1 + x·(1 − σ(x)))
      const s = o.ew('Sigmoid', x);
      const oms = o.ew('Sub', o.c.scalar(1), s);
      const xo = o.ew('Mul', x, oms);
      o.free(oms);
      const p = o.ew('AddV2', xo, o.c.scalar(1));
      o.free(xo);
      const d = o.ew('Mul', s, p);
      o.free(s, p);
      const dx = o.ew('Mul', dy, d);
      o.free(d);
      return dx;
    }
    case 'tanh': {
      const t = o.ew('Tanh', x);
      const dx = o.one('TanhGrad', [o.T], [t, dy]);
      o.free(t);
      return dx;
    }
  }
}

const BODIES: Record<string, KernelBody> = {
  [FUSED_KERNELS.linear]: (o, i) => {
    const y = o.matMul(o.input(i.x!), o.input(i.w!), false, true);
    if (!i.b) return o.out(y);
    const yb = o.one('BiasAdd', [o.T, o.str('data_format', 'NHWC')], [y, o.input(i.b)]);
    o.free(y);
    return o.out(yb);
  },

  [FUSED_KERNELS.linearGrad]: (o, i, a) => {
    const dy = o.input(i.dy!);
    const outs = [o.out(o.matMul(dy, o.input(i.w!), false, false)), o.out(o.matMul(dy, o.input(i.x!), true, false))];
    if (a.bias) outs.push(o.out(o.biasAddGrad(dy)));
    return outs;
  },

  [FUSED_KERNELS.layerNorm]: (o, i, a) => {
    const x = o.input(i.x!);
    const h = i.residual ? o.ew('AddV2', x, o.input(i.residual)) : x;
    const mean = o.reduce('Mean', h, -1, true);
    const c = o.ew('Sub', h, mean);
    o.free(mean, h === x ? null : h);
    const sq = o.ew('Square', c);
    const v = o.reduce('Mean', sq, -1, true);
    o.free(sq);
    const ve = o.ew('AddV2', v, o.c.scalar(a.eps as number));
    o.free(v);
    const rstd = o.ew('Rsqrt', ve);
    o.free(ve);
    const xhat = o.ew('Mul', c, rstd);
    o.free(c);
    const t = o.ew('Mul', xhat, o.input(i.gamma!));
    const y = o.ew('AddV2', t, o.input(i.beta!));
    o.free(t);
    return a.stats ? [o.out(y), o.out(xhat), o.out(rstd)] : [o.out(y)];
  },

  [FUSED_KERNELS.layerNormGrad]: (o, i) => {
    const dy = o.input(i.dy!);
    const xhat = o.input(i.xhat!);
    const g = o.ew('Mul', dy, o.input(i.gamma!));
    const m1 = o.reduce('Mean', g, -1, true);
    const gx = o.ew('Mul', g, xhat);
    const m2 = o.reduce('Mean', gx, -1, true);
    o.free(gx);
    const u = o.ew('Sub', g, m1);
    o.free(g, m1);
    const t = o.ew('Mul', xhat, m2);
    o.free(m2);
    const v = o.ew('Sub', u, t);
    o.free(u, t);
    const dx = o.ew('Mul', v, o.input(i.rstd!));
    o.free(v);
    const dyx = o.ew('Mul', dy, xhat);
    const dgamma = o.biasAddGrad(dyx);
    o.free(dyx);
    return [o.out(dx), o.out(dgamma), o.out(o.biasAddGrad(dy))];
  },

  [FUSED_KERNELS.activation]: (o, i, a) => o.out(activation(o, o.input(i.x!), a.kind as FusedActivation)),

  [FUSED_KERNELS.activationGrad]: (o, i, a) => o.out(activationGrad(o, o.input(i.dy!), o.input(i.x!), a.kind as FusedActivation)),

  [FUSED_KERNELS.dropoutMask]: (o, _i, a) => {
    // 16 random bits per element (half the Philox work of one float each): keep ⇔ bits ≥ round(rate·2¹⁶),
    // so the drop probability is rate to within 2⁻¹⁷ (0.1 → 0.1000061).
    const b = o.be.binding;
    const shape = a.shape as number[];
    const n = shape.reduce((x, d) => x * d, 1);
    const words = Math.ceil(n / 2);
    const seed = o.intsTemp([(a.seed as number) | 0, 0x5eed]);
    const bits = o.one('StatelessRandomUniformFullInt', [o.type('dtype', TF_UINT32), o.type('T', b.TF_INT32), o.type('Tseed', b.TF_INT32)], [o.c.ints([words]), seed]);
    o.free(seed);
    const halves = o.one('Bitcast', [o.type('T', TF_UINT32), o.type('type', TF_UINT16)], [bits]);
    o.free(bits);
    const keep = o.one('GreaterEqual', [o.type('T', TF_UINT16)], [halves, o.c.uint16(Math.round((a.rate as number) * 65536))]);
    o.free(halves);
    let flat = o.one('Reshape', [o.type('T', b.TF_BOOL), o.type('Tshape', b.TF_INT32)], [keep, o.c.ints([2 * words])]);
    o.free(keep);
    if (2 * words !== n) {
      const cut = o.one('Slice', [o.type('T', b.TF_BOOL), o.type('Index', b.TF_INT32)], [flat, o.c.ints([0]), o.c.ints([n])]);
      o.free(flat);
      flat = cut;
    }
    const mask = o.one('Reshape', [o.type('T', b.TF_BOOL), o.type('Tshape', b.TF_INT32)], [flat, o.c.ints(shape)]);
    o.free(flat);
    return o.out(mask);
  },

  [FUSED_KERNELS.dropoutApply]: (o, i, a) => {
    const x = o.input(i.x!);
    const s = a.scale === 1 ? x : o.scale(x, a.scale as number);
    const y = o.select(o.input(i.keep!), s);
    o.free(s === x ? null : s);
    return o.out(y);
  },

  [FUSED_KERNELS.attention]: (o, i, a) => {
    const [B, S, nh] = [a.batch as number, a.seq as number, a.heads as number];
    const qkv = o.input(i.qkv!);
    const H = qkv.shape[1] / 3;
    const hd = H / nh;
    const r = o.reshape(qkv, [B, S, 3, nh, hd]);
    const t = o.transpose(r, [2, 0, 3, 1, 4]);
    o.free(r);
    const [q, k, v] = o.run('Unpack', [o.T, o.int('num', 3), o.int('axis', 0)], [t], 3);
    o.free(t);
    let scores = o.batchMatMul(q, k, false, true);
    if (i.mask) {
      const s2 = o.ew('AddV2', scores, o.input(i.mask));
      o.free(scores);
      scores = s2;
    }
    const probs = o.ew('Softmax', scores);
    o.free(scores);
    const keep = i.keep ? o.input(i.keep) : null;
    const pd = keep ? o.select(keep, probs) : probs;
    let c = o.batchMatMul(pd, v, false, false);
    if (keep) {
      o.free(pd);
      const c2 = o.scale(c, a.keepScale as number);
      o.free(c);
      c = c2;
    }
    const ct = o.transpose(c, [0, 2, 1, 3]);
    o.free(c);
    const ctx = o.reshape(ct, [B * S, H]);
    o.free(ct);
    if (a.stats) return [o.out(ctx), o.out(q), o.out(k), o.out(v), o.out(probs)];
    return [o.out(ctx)];
  },

  [FUSED_KERNELS.attentionGrad]: (o, i, a) => {
    const [B, S, nh] = [a.batch as number, a.seq as number, a.heads as number];
    const dctx = o.input(i.dctx!);
    const H = dctx.shape[1];
    const probs = o.input(i.probs!);
    const keep = i.keep ? o.input(i.keep) : null;
    const d = o.reshape(dctx, [B, S, nh, H / nh]);
    let dc = o.transpose(d, [0, 2, 1, 3]);
    o.free(d);
    if (keep) {
      const dc2 = o.scale(dc, a.keepScale as number);
      o.free(dc);
      dc = dc2;
    }
    const pd = keep ? o.select(keep, probs) : probs;
    const dv = o.batchMatMul(pd, dc, true, false);
    if (keep) o.free(pd);
    let dp = o.batchMatMul(dc, o.input(i.v!), false, true);
    o.free(dc);
    if (keep) {
      const dp2 = o.select(keep, dp);
      o.free(dp);
      dp = dp2;
    }
    // softmax backward: ds = p·(dp − Σ dp·p)
    const pdp = o.ew('Mul', dp, probs);
    o.free(dp);
    const sm = o.reduce('Sum', pdp, -1, true);
    const ps = o.ew('Mul', probs, sm);
    o.free(sm);
    const ds = o.ew('Sub', pdp, ps);
    o.free(pdp, ps);
    const dq = o.batchMatMul(ds, o.input(i.k!), false, false);
    const dk = o.batchMatMul(ds, o.input(i.q!), true, false);
    o.free(ds);
    const st = o.one('Pack', [o.T, o.int('N', 3), o.int('axis', 0)], [dq, dk, dv]);
    o.free(dq, dk, dv);
    const tt = o.transpose(st, [1, 3, 0, 2, 4]);
    o.free(st);
    const dqkv = o.reshape(tt, [B * S, 3 * H]);
    o.free(tt);
    return o.out(dqkv);
  },

  [FUSED_KERNELS.adamw]: (o, i, a) => {
    const [b1, b2] = [a.beta1 as number, a.beta2 as number];
    const g = o.input(i.g!);
    // The same operations as the composite version (and torch), ordered to keep as few
    // parameter-sized intermediates alive at once as possible (the embedding matrix is large).
    let t = o.ew('Square', g);
    let u = o.scale(t, 1 - b2);
    o.free(t);
    t = o.scale(o.input(i.v!), b2);
    const v1 = o.ew('AddV2', t, u);
    o.free(t, u);
    t = o.scale(o.input(i.m!), b1);
    u = o.scale(g, 1 - b1);
    const m1 = o.ew('AddV2', t, u);
    o.free(t, u);
    t = o.ew('Sqrt', v1);
    u = o.ew('RealDiv', t, o.c.scalar(Math.sqrt(a.bc2 as number)));
    o.free(t);
    t = o.ew('AddV2', u, o.c.scalar(a.eps as number));
    o.free(u);
    u = o.ew('RealDiv', m1, t);
    o.free(t);
    const update = o.scale(u, (a.lr as number) / (a.bc1 as number));
    o.free(u);
    const p = o.input(i.p!);
    const decayed = a.decay === 1 ? p : o.scale(p, a.decay as number);
    const p1 = o.ew('Sub', decayed, update);
    o.free(update, decayed === p ? null : decayed);
    return [o.out(p1), o.out(m1), o.out(v1)];
  },

  [FUSED_KERNELS.sumSquares]: (o, i, a) => {
    const parts: Meta[] = [];
    for (let k = 0; k < (a.n as number); k++) {
      const x = o.input(i[`x${k}`]!);
      const sq = o.ew('Square', x);
      parts.push(o.one('Sum', [o.T, o.type('Tidx', o.be.binding.TF_INT32), o.bool('keep_dims', false)], [sq, o.c.ints(x.shape.map((_, d) => d))]));
      o.free(sq);
    }
    if (parts.length === 1) return o.out(parts[0]);
    const total = o.one('AddN', [o.T, o.int('N', parts.length)], parts);
    o.free(...parts);
    return o.out(total);
  },
};

let registered = false;
let constants: Constants | null = null;

/** Registers the native fused kernels for the `tensorflow` backend (tfjs-node, tfjs-node-gpu). */
export function registerTensorflowKernels(): void {
  if (registered) return;
  registered = true;
  for (const [kernelName, body] of Object.entries(BODIES)) {
    if (tf.getKernel(kernelName, 'tensorflow')) continue;
    tf.registerKernel({
      kernelName,
      backendName: 'tensorflow',
      kernelFunc: ({ inputs, attrs, backend }) => {
        const be = backend as unknown as NodeBackend;
        constants ??= new Constants(be.binding);
        const o = new Ops(be, constants);
        try {
          return body(o, inputs as Record<string, tf.TensorInfo | undefined>, attrs as unknown as Record<string, unknown>) as unknown as tf.TensorInfo | tf.TensorInfo[];
        } finally {
          o.end();
        }
      },
    });
  }
}

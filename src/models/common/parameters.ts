// Model weights as tf.Variables keyed by their Hugging Face parameter names, so loading and saving a
// checkpoint is a walk over one dictionary.
import * as tf from '@tensorflow/tfjs-core';
import { releaseHostCopies, settleTensor } from '../../backend/index.js';
import type { StoredTensor, TensorToWrite } from '../../io/safetensors.js';
import { InputError } from '../../utils/errors.js';

export type Init =
  | { kind: 'zeros' }
  | { kind: 'ones' }
  | { kind: 'normal'; std: number; mean?: number }
  | { kind: 'value'; value: tf.Tensor };

export interface LoadOptions {
  /** File name for error messages. */
  source?: string;
  /** Maps a checkpoint name to ours (e.g. strips a `bert.` prefix); return null to ignore it. */
  rename?: (checkpointName: string) => string | null;
  /** Our names that may be absent from the checkpoint (they keep their initial values). */
  optional?: (name: string) => boolean;
}

export interface LoadReport {
  loaded: string[];
  /** Ours, not in the checkpoint, allowed by `optional`. */
  missing: string[];
  /** In the checkpoint, not ours. */
  unexpected: string[];
}

/** 32-bit FNV-1a of a string: a per-parameter seed that does not depend on creation order. */
function hashSeed(s: string, seed: number): number {
  let h = 0x811c9dc5 ^ seed;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return (h >>> 0) % 2147483647;
}

export class Parameters {
  private readonly vars = new Map<string, tf.Variable>();
  private readonly frozen = new Set<string>();

  /** `seed` makes random initialisation reproducible. */
  constructor(readonly seed = 42) {}

  /** Creates a parameter. tfjs variable names are global, so the HF name is kept here only. */
  create(name: string, shape: number[], init: Init, trainable = true): tf.Variable {
    if (this.vars.has(name)) throw new Error(`parameter '${name}' already exists`);
    const value = tf.tidy(() => {
      switch (init.kind) {
        case 'zeros':
          return tf.zeros(shape);
        case 'ones':
          return tf.ones(shape);
        case 'normal':
          return tf.truncatedNormal(shape, init.mean ?? 0, init.std, 'float32', hashSeed(name, this.seed));
        case 'value':
          return init.value.clone();
      }
    });
    const v = tf.variable(value, trainable);
    value.dispose();
    // Without this a model built weight by weight would hold every weight twice for a while.
    settleTensor(v);
    this.vars.set(name, v);
    return v;
  }

  get(name: string): tf.Variable {
    const v = this.vars.get(name);
    if (!v) throw new Error(`no parameter '${name}'`);
    return v;
  }

  has(name: string): boolean {
    return this.vars.has(name);
  }

  names(): string[] {
    return [...this.vars.keys()];
  }

  /** Variables the optimiser updates, by name. */
  trainable(): Map<string, tf.Variable> {
    const out = new Map<string, tf.Variable>();
    for (const [n, v] of this.vars) if (v.trainable && !this.frozen.has(n)) out.set(n, v);
    return out;
  }

  /** Excludes parameters from training (e.g. frozen embeddings). */
  freeze(predicate: (name: string) => boolean): void {
    for (const n of this.vars.keys()) if (predicate(n)) this.frozen.add(n);
  }

  get size(): number {
    let n = 0;
    for (const v of this.vars.values()) n += v.size;
    return n;
  }

  /**
   * Copies checkpoint tensors into the parameters; shapes must match exactly. `file.tensors` may be
   * a lazy sequence (GGUF: each tensor is dequantised when its turn comes).
   */
  load(file: { tensors: Iterable<[string, StoredTensor]> }, opts: LoadOptions = {}): LoadReport {
    const source = opts.source ?? 'checkpoint';
    const report: LoadReport = { loaded: [], missing: [], unexpected: [] };
    const seen = new Set<string>();
    for (const [ckName, t] of file.tensors) {
      const name = opts.rename ? opts.rename(ckName) : ckName;
      if (name === null) continue;
      const v = this.vars.get(name);
      if (!v) {
        report.unexpected.push(ckName);
        continue;
      }
      if (t.shape.length !== v.shape.length || t.shape.some((d, i) => d !== v.shape[i])) {
        throw new InputError(
          `tensor '${ckName}' has shape [${t.shape}] but the model config expects [${v.shape}] (config/checkpoint mismatch)`,
          { file: source },
        );
      }
      if (seen.has(name)) throw new InputError(`tensors map twice onto parameter '${name}'`, { file: source });
      seen.add(name);
      tf.tidy(() => v.assign(tf.tensor(t.values, t.shape, v.dtype)));
      settleTensor(v);
      report.loaded.push(name);
    }
    releaseHostCopies();
    const missing = [...this.vars.keys()].filter((n) => !seen.has(n));
    const required = missing.filter((n) => !opts.optional?.(n));
    if (required.length) {
      const shown = required.slice(0, 8).join(', ') + (required.length > 8 ? `, … (${required.length} in all)` : '');
      throw new InputError(`missing tensors for parameters: ${shown}`, { file: source });
    }
    report.missing = missing;
    return report;
  }

  /** Reads every parameter back for saving, under `rename(name)` (default: unchanged). */
  toTensors(rename: (name: string) => string | null = (n) => n): Record<string, TensorToWrite> {
    const out: Record<string, TensorToWrite> = {};
    for (const [n, v] of this.vars) {
      const key = rename(n);
      if (key === null) continue;
      out[key] = { shape: v.shape.slice(), values: v.dataSync() as Float32Array };
    }
    return out;
  }

  dispose(): void {
    for (const v of this.vars.values()) v.dispose();
    this.vars.clear();
  }
}

// Outputs of a decoder's frozen lower layers, computed once per token sequence and reused. When only
// the top layers of a pretrained decoder are trained, everything below them is a fixed function of
// the tokens: training steps, evaluation and other models built on the same frozen weights (other
// seeds, other loss mixes) can all start from the cached residual stream. Causal attention makes the
// states of a prefix independent of what follows, so one entry for prompt + answer + reason also
// serves the prompt alone and prompt + answer.
import * as tf from '@tensorflow/tfjs-core';
import type { LlamaModel } from '../llama/model.js';

interface Entry {
  ids: number[];
  /** [ids.length, hidden] row-major. */
  states: Float32Array;
}

export class FrozenStateCache {
  private readonly entries = new Map<string, Entry[]>();
  private fingerprint: string | null = null;
  /** Rows computed / served from the cache so far. */
  computed = 0;
  hits = 0;
  /** Float32 values held. */
  values = 0;

  /**
   * `layer`: the residual stream entering this layer is cached (layers below it are frozen).
   * `chunk`: rows run through the frozen layers per forward pass.
   */
  constructor(
    readonly layer: number,
    readonly chunk = 8,
  ) {}

  /** Checks that `model` has the frozen weights this cache was filled with (one cache, one frozen base). */
  check(model: LlamaModel): void {
    const fp = tf.tidy(() => {
      const parts = [tf.sum(tf.slice(model.params.get('model.embed_tokens.weight'), [0, 0], [8, -1]))];
      for (let i = 0; i < this.layer; i++) parts.push(tf.sum(model.params.get(`model.layers.${i}.input_layernorm.weight`)));
      return tf.stack(parts);
    });
    const key = Array.from(fp.dataSync(), (v) => v.toPrecision(9)).join(',');
    fp.dispose();
    if (this.fingerprint === null) this.fingerprint = key;
    else if (this.fingerprint !== key) throw new Error('this FrozenStateCache was filled by a model with different frozen weights');
  }

  private find(row: number[], promptLength: number): Entry | undefined {
    const list = this.entries.get(row.slice(0, promptLength).join(','));
    return list?.find((e) => e.ids.length >= row.length && row.every((t, j) => j < promptLength || e.ids[j] === t));
  }

  /**
   * The residual stream entering `layer` for each row ([rows, T, hidden], right-padded with zeros
   * to T); `promptLengths[i]` tokens of row i key the entry. Missing rows run through the frozen layers.
   */
  states(model: LlamaModel, rows: number[][], promptLengths: number[], T: number): tf.Tensor3D {
    const H = model.config.hidden_size;
    this.fill(model, rows, promptLengths);
    const out = new Float32Array(rows.length * T * H);
    rows.forEach((r, i) => {
      const e = this.find(r, promptLengths[i])!;
      out.set(e.states.subarray(0, r.length * H), i * T * H);
    });
    return tf.tensor3d(out, [rows.length, T, H]);
  }

  /** Computes and stores the rows not served yet. */
  fill(model: LlamaModel, rows: number[][], promptLengths: number[]): void {
    const H = model.config.hidden_size;
    const missing: number[] = [];
    const seen = new Set<string>();
    rows.forEach((r, i) => {
      if (this.find(r, promptLengths[i])) {
        this.hits++;
        return;
      }
      const k = r.join(',');
      if (!seen.has(k)) missing.push(i);
      seen.add(k);
    });
    if (!missing.length) return;
    this.check(model);
    // Longest first: similar lengths share a chunk (less padding).
    missing.sort((a, b) => rows[b].length - rows[a].length);
    for (let s = 0; s < missing.length; s += this.chunk) {
      const idx = missing.slice(s, s + this.chunk);
      const T = Math.max(...idx.map((i) => rows[i].length));
      const ids = idx.map((i) => [...rows[i], ...new Array(T - rows[i].length).fill(0)]);
      const mask = idx.map((i) => [...rows[i].map(() => 1), ...new Array(T - rows[i].length).fill(0)]);
      const h = tf.tidy(() => {
        const o = model.forward(
          { inputIds: tf.tensor2d(ids, undefined, 'int32'), attentionMask: tf.tensor2d(mask, undefined, 'int32') },
          { stopAtLayer: this.layer, outputHiddenStates: true },
        );
        return o.hiddenStates![this.layer];
      });
      const v = h.dataSync() as Float32Array;
      h.dispose();
      idx.forEach((i, j) => {
        const r = rows[i];
        const key = r.slice(0, promptLengths[i]).join(',');
        const list = this.entries.get(key) ?? [];
        // A longer entry for the same prompt supersedes those it extends.
        const keep = list.filter((e) => !(e.ids.length <= r.length && e.ids.every((t, q) => r[q] === t)));
        this.values -= list.reduce((a, e) => a + e.states.length, 0) - keep.reduce((a, e) => a + e.states.length, 0);
        const states = v.slice(j * T * H, (j * T + r.length) * H);
        keep.push({ ids: r.slice(), states });
        this.values += states.length;
        this.entries.set(key, keep);
        this.computed++;
      });
    }
  }

  get size(): number {
    let n = 0;
    for (const l of this.entries.values()) n += l.length;
    return n;
  }

  clear(): void {
    this.entries.clear();
    this.values = 0;
  }
}

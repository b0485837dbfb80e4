// Choosing the next token from one row of logits: greedy (argmax) or sampled with temperature,
// top-k then top-p filtering (HF's order). Used by the T5 and Llama generators.
import type { SeededRandom } from '../../utils/random.js';

/** Index of the largest value; the first on ties, as torch.argmax. */
export function argmax(a: ArrayLike<number>, start = 0, end = a.length): number {
  let best = start;
  for (let i = start + 1; i < end; i++) if (a[i] > a[best]) best = i;
  return best - start;
}

/** Indices of the k largest values, best first (ties: lower index first); one pass, no full sort. */
export function topKIndices(a: ArrayLike<number>, k: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < a.length; i++) {
    if (out.length === k && !(a[i] > a[out[k - 1]])) continue;
    let j = out.length === k ? k - 1 : out.length;
    while (j > 0 && a[out[j - 1]] < a[i]) {
      if (j < k) out[j] = out[j - 1];
      j--;
    }
    out[j] = i;
    if (out.length > k) out.length = k;
  }
  return out;
}

/** Samples from one row of logits with temperature, top-k then top-p filtering (HF's order). */
export function sampleToken(logits: ArrayLike<number>, rng: SeededRandom, opts: { temperature?: number; topK?: number; topP?: number } = {}): number {
  const t = opts.temperature ?? 1;
  const n = logits.length;
  const k = opts.topK && opts.topK > 0 ? Math.min(opts.topK, n) : n;
  let idx = k < n ? topKIndices(logits, k) : Array.from({ length: n }, (_, i) => i).sort((a, b) => logits[b] - logits[a] || a - b);
  const max = logits[idx[0]] / t;
  const w = idx.map((i) => Math.exp(logits[i] / t - max));
  let total = w.reduce((a, b) => a + b, 0);
  const topP = opts.topP ?? 1;
  if (topP < 1) {
    let cum = 0;
    let keep = 0;
    while (keep < w.length && cum < topP * total) cum += w[keep++];
    idx = idx.slice(0, Math.max(1, keep));
    w.length = idx.length;
    total = w.reduce((a, b) => a + b, 0);
  }
  let u = rng.next() * total;
  for (let i = 0; i < idx.length; i++) {
    u -= w[i];
    if (u < 0) return idx[i];
  }
  return idx[idx.length - 1];
}

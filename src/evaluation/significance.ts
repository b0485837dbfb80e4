// Paired significance tests between two systems' per-query scores (same queries, same order).
import { SeededRandom } from '../utils/random.js';

export interface TTestResult {
  t: number;
  df: number;
  /** Two-sided p-value from the exact Student-t distribution. */
  p: number;
  /** mean(a − b). */
  meanDiff: number;
}

export interface RandomizationResult {
  /** Two-sided p-value. */
  p: number;
  /** mean(a − b). */
  meanDiff: number;
  /** Sign assignments evaluated (2^n when enumerated exactly). */
  trials: number;
  /** True when all 2^n sign assignments were enumerated (p is then exact). */
  exact: boolean;
}

function checkPaired(a: readonly number[], b: readonly number[]): number[] {
  if (a.length !== b.length) throw new RangeError(`paired test: ${a.length} vs ${b.length} values (the same queries are needed in both)`);
  const d = a.map((x, i) => x - b[i]);
  if (d.some((x) => !Number.isFinite(x))) throw new RangeError('paired test: non-finite value');
  return d;
}

/** ln Γ(x) for x > 0 (Lanczos, g = 7, 9 terms; relative error ~1e-15). */
export function logGamma(x: number): number {
  const c = [0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059, 12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7];
  if (x < 0.5) return Math.log(Math.PI / Math.abs(Math.sin(Math.PI * x))) - logGamma(1 - x);
  x -= 1;
  let s = c[0];
  for (let i = 1; i < 9; i++) s += c[i] / (x + i);
  const t = x + 7.5;
  return 0.5 * Math.log(2 * Math.PI) + (x + 0.5) * Math.log(t) - t + Math.log(s);
}

/** Continued fraction for the incomplete beta (modified Lentz). */
function betaContinuedFraction(a: number, b: number, x: number): number {
  const tiny = 1e-300;
  let c = 1;
  let d = 1 - ((a + b) * x) / (a + 1);
  if (Math.abs(d) < tiny) d = tiny;
  d = 1 / d;
  let h = d;
  for (let m = 1; m <= 10000; m++) {
    const m2 = 2 * m;
    let aa = (m * (b - m) * x) / ((a + m2 - 1) * (a + m2));
    d = 1 + aa * d;
    if (Math.abs(d) < tiny) d = tiny;
    c = 1 + aa / c;
    if (Math.abs(c) < tiny) c = tiny;
    d = 1 / d;
    h *= d * c;
    aa = (-(a + m) * (a + b + m) * x) / ((a + m2) * (a + m2 + 1));
    d = 1 + aa * d;
    if (Math.abs(d) < tiny) d = tiny;
    c = 1 + aa / c;
    if (Math.abs(c) < tiny) c = tiny;
    d = 1 / d;
    const del = d * c;
    h *= del;
    if (Math.abs(del - 1) < 1e-16) break;
  }
  return h;
}

/** The regularized incomplete beta function I_x(a, b). */
export function regularizedIncompleteBeta(x: number, a: number, b: number): number {
  if (x <= 0) return 0;
  if (x >= 1) return 1;
  const lnFront = logGamma(a + b) - logGamma(a) - logGamma(b) + a * Math.log(x) + b * Math.log1p(-x);
  // The continued fraction converges fast for x < (a+1)/(a+b+2); use the symmetry otherwise.
  if (x < (a + 1) / (a + b + 2)) return (Math.exp(lnFront) * betaContinuedFraction(a, b, x)) / a;
  return 1 - (Math.exp(lnFront) * betaContinuedFraction(b, a, 1 - x)) / b;
}

/** Two-sided tail probability P(|T| ≥ |t|) of Student's t with df degrees of freedom. */
export function studentTTwoSided(t: number, df: number): number {
  if (Number.isNaN(t)) return NaN;
  if (!Number.isFinite(t)) return 0;
  return regularizedIncompleteBeta(df / (df + t * t), df / 2, 0.5);
}

/** Paired two-sided t-test on a − b. */
export function pairedTTest(a: readonly number[], b: readonly number[]): TTestResult {
  const d = checkPaired(a, b);
  const n = d.length;
  if (n < 2) throw new RangeError('paired t-test needs at least 2 pairs');
  const mean = d.reduce((s, x) => s + x, 0) / n;
  const variance = d.reduce((s, x) => s + (x - mean) * (x - mean), 0) / (n - 1);
  const df = n - 1;
  if (variance === 0) {
    // Identical differences: no evidence if they are all 0, certainty otherwise.
    return mean === 0 ? { t: 0, df, p: 1, meanDiff: 0 } : { t: mean > 0 ? Infinity : -Infinity, df, p: 0, meanDiff: mean };
  }
  const t = mean / Math.sqrt(variance / n);
  return { t, df, p: studentTTwoSided(t, df), meanDiff: mean };
}

/**
 * Paired randomization (sign-flip permutation) test, two-sided on |mean(a − b)|. With 2^n ≤ trials
 * every sign assignment is enumerated and p is exact (count / 2^n); otherwise `trials` random
 * assignments from a seeded generator give p = (count + 1) / (trials + 1), which never reports 0.
 */
export function randomizationTest(a: readonly number[], b: readonly number[], opts: { trials?: number; seed?: number } = {}): RandomizationResult {
  const d = checkPaired(a, b);
  const n = d.length;
  if (n === 0) throw new RangeError('randomization test needs at least 1 pair');
  const trials = opts.trials ?? 10000;
  const observed = Math.abs(d.reduce((s, x) => s + x, 0));
  // Sums are compared, not means; the slack absorbs rounding when a permutation ties the observed sum.
  const eps = 1e-9 * Math.max(1, observed);
  const meanDiff = d.reduce((s, x) => s + x, 0) / n;
  if (n <= 20 && 2 ** n <= trials) {
    let count = 0;
    for (let mask = 0; mask < 2 ** n; mask++) {
      let s = 0;
      for (let i = 0; i < n; i++) s += mask & (1 << i) ? -d[i] : d[i];
      if (Math.abs(s) >= observed - eps) count++;
    }
    return { p: count / 2 ** n, meanDiff, trials: 2 ** n, exact: true };
  }
  const rng = new SeededRandom(opts.seed ?? 42);
  let count = 0;
  for (let t = 0; t < trials; t++) {
    let s = 0;
    for (let i = 0; i < n; i++) s += rng.next() < 0.5 ? -d[i] : d[i];
    if (Math.abs(s) >= observed - eps) count++;
  }
  return { p: (count + 1) / (trials + 1), meanDiff, trials, exact: false };
}

// Paired t-test against closed forms of the Student-t CDF (df 1, 2, 3) and published critical values;
// randomization test against exact enumeration by hand and for reproducibility under a seed.
import { expect } from 'chai';
import { pairedTTest, randomizationTest, studentTTwoSided, regularizedIncompleteBeta, logGamma } from '../../src/evaluation/significance.js';

const near = (got: number, want: number, tol: number, what: string) => expect(Math.abs(got - want), `${what}: got ${got}, want ${want}`).to.be.at.most(tol);

describe('evaluation: paired t-test', () => {
  it('log-gamma and the incomplete beta match closed forms', () => {
    near(logGamma(0.5), Math.log(Math.sqrt(Math.PI)), 1e-14, 'lnΓ(1/2)');
    near(logGamma(10), Math.log(362880), 1e-12, 'lnΓ(10)');
    near(logGamma(1), 0, 1e-14, 'lnΓ(1)');
    // I_x(a, 1) = x^a;  I_x(1, b) = 1 − (1 − x)^b
    near(regularizedIncompleteBeta(0.3, 2.5, 1), Math.pow(0.3, 2.5), 1e-13, 'I_x(a,1)');
    near(regularizedIncompleteBeta(0.7, 1, 3.5), 1 - Math.pow(0.3, 3.5), 1e-13, 'I_x(1,b)');
  });

  it('two-sided Student-t tail probabilities match closed forms for df = 1, 2, 3', () => {
    for (const t of [0.1, 0.5, 1, 2.5, 7, 40]) {
      near(studentTTwoSided(t, 1), 1 - (2 / Math.PI) * Math.atan(t), 1e-12, `df=1 t=${t}`);
      near(studentTTwoSided(-t, 2), 1 - t / Math.sqrt(2 + t * t), 1e-12, `df=2 t=${t}`);
      const u = t / Math.sqrt(3);
      near(studentTTwoSided(t, 3), 1 - (2 / Math.PI) * (Math.atan(u) + u / (1 + u * u)), 1e-12, `df=3 t=${t}`);
    }
    expect(studentTTwoSided(0, 5)).to.equal(1);
  });

  it('two-sided p = 0.05 and 0.01 at published critical values', () => {
    near(studentTTwoSided(2.228138851986274, 10), 0.05, 1e-10, 't(0.975, 10)');
    near(studentTTwoSided(2.042272456301238, 30), 0.05, 1e-10, 't(0.975, 30)');
    near(studentTTwoSided(3.169272672616951, 10), 0.01, 1e-10, 't(0.995, 10)');
  });

  it('computes t, df, mean difference by hand', () => {
    // d = [1, 2, 3, 4]: mean 2.5, sample variance 5/3, t = 2.5 / sqrt(5/12), df 3
    const r = pairedTTest([1, 2, 3, 5], [0, 0, 0, 1]);
    near(r.meanDiff, 2.5, 1e-15, 'meanDiff');
    near(r.t, 2.5 / Math.sqrt(5 / 12), 1e-12, 't');
    expect(r.df).to.equal(3);
    const u = r.t / Math.sqrt(3);
    near(r.p, 1 - (2 / Math.PI) * (Math.atan(u) + u / (1 + u * u)), 1e-12, 'p');
    // antisymmetric in the order of the systems
    const s = pairedTTest([0, 0, 0, 1], [1, 2, 3, 5]);
    near(s.t, -r.t, 1e-12, 't swapped');
    near(s.p, r.p, 1e-15, 'p swapped');
  });

  it('handles identical systems, constant differences and bad input', () => {
    expect(pairedTTest([1, 2, 3], [1, 2, 3])).to.deep.equal({ t: 0, df: 2, p: 1, meanDiff: 0 });
    const c = pairedTTest([2, 3, 4], [1, 2, 3]);
    expect(c.p).to.equal(0);
    expect(c.t).to.equal(Infinity);
    expect(() => pairedTTest([1, 2], [1])).to.throw(RangeError);
    expect(() => pairedTTest([1], [0])).to.throw(RangeError);
    expect(() => pairedTTest([NaN, 1], [0, 0])).to.throw(RangeError);
  });
});

describe('evaluation: randomization test', () => {
  it('enumerates all sign flips exactly when 2^n ≤ trials (hand-computed)', () => {
    // d = [1, 2, 3]: signed sums ±1±2±3 = 6, 4, 2, 0, 0, −2, −4, −6; |s| ≥ 6 in 2 of 8
    const r = randomizationTest([1, 2, 3], [0, 0, 0], { trials: 1000 });
    expect(r).to.deep.equal({ p: 0.25, meanDiff: 2, trials: 8, exact: true });
    // d = [1, 1, 1, 1]: |s| ≥ 4 in 2 of 16; a zero difference flips to itself
    expect(randomizationTest([1, 1, 1, 1], [0, 0, 0, 0]).p).to.equal(2 / 16);
    expect(randomizationTest([0.3, 0.1], [0.3, 0.1]).p).to.equal(1);
    // ties with the observed sum despite rounding (0.1 + 0.2 vs 0.3) count
    expect(randomizationTest([0.1, 0.2, 0], [0, 0, 0.3]).p).to.equal(1);
  });

  it('Monte Carlo mode is reproducible under a seed and agrees with exact enumeration', () => {
    const a = Array.from({ length: 16 }, (_, i) => Math.sin(i) * 0.3 + 0.5);
    const b = a.map((x, i) => x - 0.05 - 0.1 * Math.cos(3 * i));
    const exact = randomizationTest(a, b, { trials: 1 << 16 });
    expect(exact.exact).to.equal(true);
    const mc1 = randomizationTest(a, b, { trials: 20000, seed: 7 });
    const mc2 = randomizationTest(a, b, { trials: 20000, seed: 7 });
    expect(mc1).to.deep.equal(mc2);
    expect(mc1.exact).to.equal(false);
    // binomial standard error at 20000 trials is < 0.0036; allow 4 of them
    near(mc1.p, exact.p, 0.015, 'Monte Carlo vs exact');
    expect(randomizationTest(a, b, { trials: 20000, seed: 8 }).p).to.not.equal(mc1.p);
  });

  it('is close to the t-test on many queries with a clear difference', () => {
    const a = Array.from({ length: 50 }, (_, i) => 0.5 + 0.2 * Math.sin(i * 1.7));
    const b = a.map((x, i) => x - 0.03 + 0.08 * Math.sin(i * 2.3 + 1));
    const t = pairedTTest(a, b);
    const r = randomizationTest(a, b, { trials: 20000, seed: 1 });
    expect(t.p).to.be.below(0.05);
    near(r.p, t.p, 0.02, 'randomization vs t-test');
  });
});

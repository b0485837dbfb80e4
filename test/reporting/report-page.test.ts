// The report page as a person sees it: `rankdistill report` (a child process) on two run folders,
// loaded in headless Chromium (Debian's chromium + playwright-core): no console error, no request
// leaving the page, every plot present with its marks, the evaluation table with the tests'
// numbers; a screenshot goes to test-output/. Outside CI a machine without chromium skips this test;
// in CI (.ci/run installs chromium) it fails instead.
import { expect } from 'chai';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';
import { pairedTTest, randomizationTest } from '../../src/evaluation/significance.js';
import { SeededRandom } from '../../src/utils/random.js';
import { tmpDir } from '../helpers.js';
import { runCli } from '../cli/run-cli.js';
import { TEST_OUTPUT } from './output.js';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/** A run folder as `rankdistill train --out` leaves it: log.jsonl, report.json, manifest.json. */
function writeRun(dir: string, seed: number, steps: number): { student: number[]; bm25: number[] } {
  fs.mkdirSync(dir, { recursive: true });
  const rng = new SeededRandom(seed);
  const lines: string[] = [];
  for (let s = 1; s <= steps; s++) {
    lines.push(JSON.stringify({ time: new Date(0).toISOString(), type: 'train', step: s, epoch: 0, loss: 0.7 * Math.exp(-s / 40) + 0.1 * rng.next(), lr: 1e-3 * Math.min(1, s / 10) * (1 - s / (steps + 1)), grad_norm: 1, lists_per_s: 30 + 5 * rng.next() }));
    if (s % 20 === 0) lines.push(JSON.stringify({ type: 'eval', step: s, epoch: 0, ndcg_cut_10: 0.2 + s / 1000 + 0.01 * rng.next() }));
  }
  fs.writeFileSync(path.join(dir, 'log.jsonl'), lines.join('\n') + '\n');
  const bm25 = Array.from({ length: 30 }, () => rng.next());
  const student = bm25.map((x) => Math.min(1, Math.max(0, x + 0.15 * (rng.next() - 0.3))));
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  fs.writeFileSync(
    path.join(dir, 'report.json'),
    JSON.stringify({
      train: { lists: 240, steps, seconds: 12.5, firstLoss: 0.69, lastLoss: 0.41, best: { step: 40, metrics: { ndcg_cut_10: 0.25 } } },
      test: { queries: 30, topK: 100, bm25: { ndcg10: mean(bm25), mrr10: 0.6, perQueryNdcg10: bm25 }, random: { ndcg10: 0.16, mrr10: 0.24 }, student: { ndcg10: mean(student), mrr10: 0.64, perQueryNdcg10: student } },
    }),
  );
  fs.writeFileSync(path.join(dir, 'manifest.json'), JSON.stringify({ command: 'train', rankdistill: '0.1.0', created: new Date(0).toISOString(), settings: { config: { model: { hidden_size: 128 }, trainer: { lr: 1e-3 + seed } } } }));
  return { student, bm25 };
}

describe('reporting: the report page in headless Chromium', function () {
  this.timeout(120000);

  it('two runs: loads with no console error; curves, per-query plot and evaluation table present; screenshot', async function () {
    if (!fs.existsSync(CHROMIUM)) {
      if (process.env.CI) throw new Error(`${CHROMIUM} is missing: .ci/run installs Debian's chromium for this test`);
      this.skip();
    }
    const dir = tmpDir('rankdistill-report-');
    const a = writeRun(path.join(dir, 'base'), 1, 80);
    writeRun(path.join(dir, 'bigger'), 2, 60);
    const out = path.join(dir, 'page', 'report.html');
    const r = await runCli(['report', path.join(dir, 'base'), path.join(dir, 'bigger'), '--out', out]);
    expect(r.code, r.stderr).to.equal(0);
    expect(r.stdout.split('\n')[0]).to.equal(`report: ${out}`);

    const userData = fs.mkdtempSync(path.join(os.tmpdir(), 'rankdistill-chromium-'));
    const browser = await chromium.launchPersistentContext(userData, {
      executablePath: CHROMIUM,
      headless: true,
      viewport: { width: 1200, height: 900 },
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
    try {
      const page = await browser.newPage();
      const problems: string[] = [];
      page.on('console', (m) => void (m.type() === 'error' || m.type() === 'warning' ? problems.push(`console ${m.type()}: ${m.text()}`) : undefined));
      page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
      // A self-contained page asks for nothing but itself.
      page.on('request', (q) => void (q.url() !== `file://${out}` ? problems.push(`request: ${q.url()}`) : undefined));
      await page.goto(`file://${out}`, { waitUntil: 'load' });
      expect(problems).to.deep.equal([]);
      expect(await page.title()).to.equal('rankdistill report: base vs bigger');

      // Every plot is there, drawn, and visible; the curves have one line per run.
      for (const id of ['curve-loss', 'curve-lr', 'curve-dev', 'curve-throughput', 'per-query']) {
        const box = await page.locator(`#${id} svg`).boundingBox();
        expect(box, id).to.not.equal(null);
        expect(box!.width, id).to.be.greaterThan(300);
        expect(box!.height, id).to.be.greaterThan(150);
      }
      expect(await page.locator('#curve-lr .mark-line path').count()).to.equal(2);
      expect(await page.locator('#curve-dev .mark-line path').count()).to.equal(2);
      expect(await page.locator('#curve-loss text', { hasText: 'base' }).count()).to.be.greaterThan(0);
      // Per-query differences: base/student and bigger/student against base/BM25, one bar per query.
      expect(await page.locator('#per-query .mark-rect path').count()).to.equal(60);

      // The evaluation table: the paired tests' numbers, as the library computes them.
      const rows = await page.locator('table.eval tbody tr').allInnerTexts();
      expect(rows.map((t) => t.split('\t')[0])).to.deep.equal(['base / BM25', 'base / random order', 'base / student', 'bigger / BM25', 'bigger / random order', 'bigger / student']);
      const t = pairedTTest(a.student, a.bm25);
      const rnd = randomizationTest(a.student, a.bm25, { trials: 10000, seed: 42 });
      const cells = rows[2].split('\t');
      expect(cells[3]).to.equal(`${t.meanDiff >= 0 ? '+' : ''}${t.meanDiff.toFixed(4)}`);
      expect(Number(cells[4])).to.be.closeTo(t.p, Math.abs(t.p) * 1e-2);
      expect(Number(cells[5])).to.be.closeTo(rnd.p, Math.abs(rnd.p) * 1e-2);
      expect(rows[0]).to.contain('baseline');
      expect(await page.locator('details pre').first().textContent()).to.contain('"hidden_size": 128');

      fs.mkdirSync(TEST_OUTPUT, { recursive: true });
      const shot = path.join(TEST_OUTPUT, 'report-page.png');
      await page.screenshot({ path: shot, fullPage: true });
      expect(fs.statSync(shot).size).to.be.greaterThan(50000);
      console.log(`      screenshot of the report page: ${shot}`);
    } finally {
      await browser.close();
      fs.rmSync(userData, { recursive: true, force: true });
    }
  });

  it('a folder that is not a run: exit 2 naming it', async () => {
    const dir = tmpDir();
    const r = await runCli(['report', dir]);
    expect(r.code).to.equal(2);
    expect(r.errLines[0]).to.equal(`rankdistill: ${dir}: holds neither log.jsonl nor report.json: not the output folder of a training run (rankdistill train --out, Trainer outputDir)`);
  });
});

// The table of docs/recipes.md from the runs' report.json files: one row per recipe variant
// (examples/configs/recipes/NAME.json, run with `rankdistill train --config … --out DIR/NAME`).
//
//   npx tsx bench/recipes-table.ts [DIR (default runs/recipes)] [NAME …]
import fs from 'node:fs';
import path from 'node:path';

interface Report {
  student: { kind: string; head?: Record<string, number>; trainedParameters?: number };
  train: { steps: number; seconds: number; firstLoss: number; lastLoss: number; best?: { step: number; metrics: { ndcg_cut_10: number } }; history: Array<{ step: number; metrics: { ndcg_cut_10: number } }> };
  dev: { zeroShotNdcg10: number | null; studentNdcg10: number; interpolationWeight: number };
  test: {
    student: { ndcg10: number; mrr10: number };
    interpolated: { ndcg10: number };
    studentVsZeroShot?: { delta: number; tTestP: number; randomizationP: number };
    studentVsBm25: { delta: number; tTestP: number; randomizationP: number };
  };
}

const dir = process.argv[2] ?? 'runs/recipes';
const wanted = process.argv.slice(3);
const names = (wanted.length ? wanted : fs.readdirSync(dir).sort()).filter((n) => fs.existsSync(path.join(dir, n, 'report.json')));
const f4 = (x: number) => x.toFixed(4);
const p = (x: number) => (x < 1e-3 ? x.toExponential(1) : x.toPrecision(2));
const signed = (x: number) => `${x >= 0 ? '+' : '−'}${f4(Math.abs(x))}`;

console.log('| variant | student | dev nDCG@10 (best step) | dev curve | DL20 nDCG@10 | Δ vs zero-shot (t p / rand p) | Δ vs BM25 (t p) | MRR@10 | ⊕ BM25 (w) | train s |');
console.log('|---|---|---|---|---|---|---|---|---|---|');
for (const n of names) {
  const r = JSON.parse(fs.readFileSync(path.join(dir, n, 'report.json'), 'utf8')) as Report;
  const t = r.test;
  const z = t.studentVsZeroShot;
  const head = r.student.head ? ` (${Object.entries(r.student.head).map(([k, v]) => `${v.toFixed(2)}·${k}`).join(' + ')})` : '';
  const best = r.train.best ? `${f4(r.train.best.metrics.ndcg_cut_10)} (${r.train.best.step})` : f4(r.dev.studentNdcg10);
  const curve = r.train.history.map((h) => h.metrics.ndcg_cut_10.toFixed(3)).join(' ');
  console.log(
    `| ${n} | ${r.student.kind}${r.student.head && Object.keys(r.student.head).length <= 3 ? head : ''} | ${best} | ${curve} | ${f4(t.student.ndcg10)} | ${z ? `${signed(z.delta)} (${p(z.tTestP)} / ${p(z.randomizationP)})` : '–'} | ${signed(t.studentVsBm25.delta)} (${p(t.studentVsBm25.tTestP)}) | ${f4(t.student.mrr10)} | ${f4(t.interpolated.ndcg10)} (${r.dev.interpolationWeight}) | ${r.train.seconds.toFixed(0)} |`,
  );
}

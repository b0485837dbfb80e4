// One HTML page for one or more training runs, from the files a run writes: curves (log.jsonl), the
// evaluation table with paired significance tests against a baseline (report.json), per-query
// differences against that baseline as a plot, the run summary and the config (manifest.json or the
// checkpoint's trainer state), and the model card if the run saved a model. Self-contained: inline
// SVG charts, inline CSS, no script, nothing fetched, so it opens anywhere and archives as one file.
import fs from 'node:fs';
import path from 'node:path';
import type { TopLevelSpec } from 'vega-lite';
import { pairedTTest, randomizationTest } from '../evaluation/significance.js';
import { InputError } from '../utils/errors.js';
import { libraryVersion } from '../utils/version.js';
import { renderSvg } from './charts.js';
import { curveData, curvePanels, readTrainingLog, type LogRecord } from './training-curves.js';

/** One system's evaluation in a run (a row of the table). */
export interface SystemEvaluation {
  run: string;
  system: string;
  /** Aggregate values by measure key (ndcg10, mrr10, …). */
  metrics: Record<string, number>;
  /** Per-query values by measure key, in the run's query order. */
  perQuery: Record<string, number[]>;
  qids?: string[];
}

export interface RunFiles {
  dir: string;
  name: string;
  log: LogRecord[];
  report: Record<string, unknown> | null;
  config: unknown;
  configSource: string | null;
  /** The saved model's config.json (architecture), when the run saved one. */
  modelConfig: unknown;
  modelCard: string | null;
  systems: SystemEvaluation[];
}

const MEASURE_NAMES: Record<string, string> = { ndcg10: 'nDCG@10', mrr10: 'MRR@10', map: 'MAP', recall100: 'R@100', p10: 'P@10' };
const SYSTEM_NAMES: Record<string, string> = { bm25: 'BM25', random: 'random order', zeroShot: 'zero-shot checkpoint', student: 'student', interpolated: 'student ⊕ BM25' };
export const measureName = (k: string) => MEASURE_NAMES[k] ?? k;
const systemName = (k: string) => SYSTEM_NAMES[k] ?? k;

function readJson(file: string): unknown {
  if (!fs.existsSync(file)) return null;
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (e) {
    throw new InputError(`not readable JSON: ${(e as Error).message}`, { file });
  }
}

/**
 * The systems of a report.json: each object in its `test` section with numeric measures (a row), and
 * with arrays named perQuery<Measure> (per-query values for the tests and the plot).
 */
export function systemsOf(run: string, report: Record<string, unknown> | null): SystemEvaluation[] {
  const test = report?.test as Record<string, unknown> | undefined;
  if (!test || typeof test !== 'object') return [];
  const qids = Array.isArray(test.qids) ? (test.qids as string[]) : undefined;
  const out: SystemEvaluation[] = [];
  for (const [system, v] of Object.entries(test)) {
    if (!v || typeof v !== 'object' || Array.isArray(v)) continue;
    const o = v as Record<string, unknown>;
    const metrics: Record<string, number> = {};
    const perQuery: Record<string, number[]> = {};
    for (const [k, x] of Object.entries(o)) {
      if (typeof x === 'number' && Number.isFinite(x) && !/^(tTestP|randomizationP|delta|p)$/.test(k)) metrics[k] = x;
      const m = /^perQuery(.+)$/.exec(k);
      if (m && Array.isArray(x) && x.every((y) => typeof y === 'number')) perQuery[m[1].toLowerCase()] = x as number[];
    }
    if (Object.keys(metrics).length) out.push({ run, system, metrics, perQuery, qids });
  }
  return out;
}

/** Reads what a run folder holds; an InputError when it is not a run folder. */
export function readRun(dir: string, name = path.basename(path.resolve(dir))): RunFiles {
  if (!fs.existsSync(dir) || !fs.statSync(dir).isDirectory()) throw new InputError('not a folder', { file: dir });
  const log = readTrainingLog(path.join(dir, 'log.jsonl'));
  const report = readJson(path.join(dir, 'report.json')) as Record<string, unknown> | null;
  if (!log.length && !report) throw new InputError('holds neither log.jsonl nor report.json: not the output folder of a training run (rankdistill train --out, Trainer outputDir)', { file: dir });
  let config: unknown = null;
  let configSource: string | null = null;
  const manifest = readJson(path.join(dir, 'manifest.json')) as { settings?: { config?: unknown } } | null;
  if (manifest?.settings) {
    config = manifest.settings.config ?? manifest.settings;
    configSource = 'manifest.json';
  } else {
    // The trainer's own record: the first record of its log, else a checkpoint's state.
    const start = log.find((r) => r.type === 'start' && r.config);
    if (start) {
      config = start.config;
      configSource = 'log.jsonl: the trainer settings';
    }
    for (const ck of ['checkpoint', 'checkpoint-prev']) {
      if (config) break;
      const st = readJson(path.join(dir, ck, 'trainer_state.json')) as { config?: unknown } | null;
      if (st?.config) {
        config = st.config;
        configSource = `${ck}/trainer_state.json`;
      }
    }
  }
  const modelConfig = readJson(path.join(dir, 'final', 'config.json'));
  const card = path.join(dir, 'final', 'README.md');
  return { dir, name, log, report, config, configSource, modelConfig, modelCard: fs.existsSync(card) ? card : null, systems: systemsOf(name, report) };
}

export interface Comparison {
  system: SystemEvaluation;
  measure: string;
  delta: number;
  tTestP: number;
  randomizationP: number;
  perQueryDelta: number[];
}

/**
 * Paired tests of every system with per-query values against `baseline` (same queries, same order).
 * The baseline's namesakes in other runs (BM25 of each run: the same system) are not compared.
 */
export function compareWithBaseline(systems: SystemEvaluation[], baseline: SystemEvaluation, measure: string): Comparison[] {
  const b = baseline.perQuery[measure];
  if (!b) return [];
  const out: Comparison[] = [];
  for (const s of systems) {
    const a = s.perQuery[measure];
    if (s === baseline || s.system === baseline.system || !a || a.length !== b.length || a.length < 2) continue;
    if (s.qids && baseline.qids && s.qids.join('\u0000') !== baseline.qids.join('\u0000')) continue;
    const t = pairedTTest(a, b);
    const r = randomizationTest(a, b, { trials: 10000, seed: 42 });
    out.push({ system: s, measure, delta: t.meanDiff, tTestP: t.p, randomizationP: r.p, perQueryDelta: a.map((x, i) => x - b[i]) });
  }
  return out;
}

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
const fmt = (v: number, d = 4) => (Number.isFinite(v) ? v.toFixed(d) : String(v));
const fmtP = (p: number) => (p < 1e-4 ? p.toExponential(1) : p.toPrecision(3));

/** Per-query Δ bars (sorted) of each comparison, one panel per system. */
function deltaSpec(comps: Comparison[], baselineLabel: string): TopLevelSpec {
  return {
    vconcat: comps.map((c) => {
      const label = `${c.system.run === comps[0].system.run && comps.every((x) => x.system.run === c.system.run) ? '' : `${c.system.run} / `}${systemName(c.system.system)}`;
      const rows = c.perQueryDelta.map((d, i) => ({ query: c.system.qids?.[i] ?? `#${i + 1}`, delta: d })).sort((x, y) => y.delta - x.delta).map((r, i) => ({ ...r, order: i + 1, sign: r.delta > 0 ? 'better' : r.delta < 0 ? 'worse' : 'tie' }));
      const better = rows.filter((r) => r.delta > 0).length;
      const worse = rows.filter((r) => r.delta < 0).length;
      return {
        title: { text: `${label}: per-query Δ ${measureName(c.measure)} vs ${baselineLabel}`, subtitle: `${better} queries better, ${worse} worse, ${rows.length - better - worse} tied; mean Δ ${c.delta >= 0 ? '+' : ''}${fmt(c.delta)}` },
        width: 760,
        height: 160,
        data: { values: rows },
        mark: { type: 'bar' },
        encoding: {
          x: { field: 'order', type: 'ordinal', title: 'queries, sorted by Δ', axis: { labels: false, ticks: false } },
          y: { field: 'delta', type: 'quantitative', title: `Δ ${measureName(c.measure)}` },
          color: { field: 'sign', type: 'nominal', scale: { domain: ['better', 'worse', 'tie'], range: ['#2e7d32', '#c62828', '#9e9e9e'] }, legend: null },
        },
      };
    }),
  } as unknown as TopLevelSpec;
}

export interface ReportOptions {
  /** Baseline system key (default bm25 when present, else the first system with per-query values), taken from the first run. */
  baseline?: string;
  /** Measure of the tests and the per-query plot (default ndcg10). */
  measure?: string;
}

/** The report page for `runs` (the first one's baseline is everyone's). */
export async function renderReportPage(runs: RunFiles[], opts: ReportOptions = {}): Promise<string> {
  const measure = opts.measure ?? 'ndcg10';
  const all = runs.flatMap((r) => r.systems);
  const first = runs[0].systems;
  const baseline = opts.baseline ? first.find((s) => s.system === opts.baseline) : (first.find((s) => s.system === 'bm25' && s.perQuery[measure]) ?? first.find((s) => s.perQuery[measure]));
  if (opts.baseline && !baseline) throw new InputError(`no system '${opts.baseline}' in ${runs[0].dir}/report.json (it has ${first.map((s) => s.system).join(', ') || 'none'})`, { field: '--baseline' });
  const comps = baseline ? compareWithBaseline(all, baseline, measure) : [];
  const many = runs.length > 1;
  const rowName = (s: SystemEvaluation) => `${many ? `${s.run} / ` : ''}${systemName(s.system)}`;
  const baselineLabel = baseline ? rowName(baseline) : '';

  // --- charts ------------------------------------------------------------------------------------
  const panels = curvePanels(curveData(runs.map((r) => ({ name: r.name, records: r.log }))));
  const curveSvgs = await Promise.all(panels.map(async (p) => ({ name: p.name, svg: await renderSvg(p.spec as unknown as TopLevelSpec) })));
  const deltaSvg = comps.length ? await renderSvg(deltaSpec(comps, baselineLabel)) : null;

  // --- evaluation table --------------------------------------------------------------------------
  const measures = [...new Set(all.flatMap((s) => Object.keys(s.metrics)))];
  const compOf = new Map(comps.map((c) => [c.system, c]));
  const table = all.length
    ? `<table class="eval">
<thead><tr><th>system</th>${measures.map((m) => `<th>${esc(measureName(m))}</th>`).join('')}${baseline ? `<th>Δ ${esc(measureName(measure))} vs ${esc(baselineLabel)}</th><th>paired t-test p</th><th>randomization p</th>` : ''}</tr></thead>
<tbody>
${all
  .map((s) => {
    const c = compOf.get(s);
    const sig = c && c.randomizationP < 0.05 && c.tTestP < 0.05;
    const cells = baseline
      ? s === baseline || s.system === baseline.system
        ? '<td class="base" colspan="3">baseline</td>'
        : c
          ? `<td class="${c.delta > 0 ? 'up' : c.delta < 0 ? 'down' : ''}">${c.delta >= 0 ? '+' : ''}${fmt(c.delta)}</td><td${sig ? ' class="sig"' : ''}>${fmtP(c.tTestP)}</td><td${sig ? ' class="sig"' : ''}>${fmtP(c.randomizationP)}</td>`
          : '<td colspan="3" class="na">no per-query values</td>'
      : '';
    return `<tr><td>${esc(rowName(s))}</td>${measures.map((m) => `<td>${s.metrics[m] !== undefined ? fmt(s.metrics[m]) : ''}</td>`).join('')}${cells}</tr>`;
  })
  .join('\n')}
</tbody></table>
<p class="note">${baseline ? `Paired two-sided tests on per-query ${esc(measureName(measure))} against ${esc(baselineLabel)} (randomization test: 10,000 sign flips, seed 42); bold: p &lt; 0.05 in both. ` : ''}Queries: ${esc(String((runs[0].report?.test as { queries?: number } | undefined)?.queries ?? '?'))}${(runs[0].report?.test as { topK?: number } | undefined)?.topK ? `, candidates reranked per query: ${(runs[0].report!.test as { topK: number }).topK}` : ''}.</p>`
    : '<p class="na">No evaluation in these runs (no report.json with a test section).</p>';

  // --- per-run summary and config --------------------------------------------------------------
  const summaries = runs.map((r) => {
    const train = r.report?.train as { lists?: number; steps?: number; seconds?: number; firstLoss?: number; lastLoss?: number; best?: { step: number; metrics: Record<string, number> } | null } | undefined;
    const trainRecs = r.log.filter((x) => x.type === 'train');
    const steps = train?.steps ?? (trainRecs.at(-1)?.step as number | undefined);
    const evals = r.log.filter((x) => x.type === 'eval');
    const resumed = r.log.filter((x) => x.type === 'resume').length;
    const interrupted = r.log.at(-1)?.type === 'interrupted';
    const items = [
      steps !== undefined ? `${steps} optimiser steps${train?.seconds !== undefined ? ` in ${fmt(train.seconds, 0)} s` : ''}` : null,
      train?.lists !== undefined ? `${train.lists} training lists` : null,
      train?.firstLoss !== undefined ? `loss ${fmt(train.firstLoss)} → ${fmt(train.lastLoss!)} (mean of the first / last 10% of steps)` : null,
      train?.best ? `best dev ${Object.entries(train.best.metrics).map(([k, v]) => `${esc(k)} ${fmt(v)}`).join(', ')} at step ${train.best.step}` : evals.length ? `${evals.length} dev evaluations` : null,
      resumed ? `resumed ${resumed} time${resumed > 1 ? 's' : ''} from a checkpoint` : null,
      interrupted ? '<b>interrupted</b>: resume it with <code>rankdistill train … --resume</code>' : null,
      r.modelCard ? `model: <code>${esc(path.join(r.dir, 'final'))}</code> (model card: <code>final/README.md</code>)` : null,
    ].filter(Boolean);
    const cfg =
      (r.config ? `<details${many ? '' : ' open'}><summary>config (${esc(r.configSource ?? '')})</summary><pre>${esc(JSON.stringify(r.config, null, 2))}</pre></details>` : '<p class="na">no config recorded</p>') +
      (r.modelConfig ? `<details><summary>model config (final/config.json)</summary><pre>${esc(JSON.stringify(r.modelConfig, null, 2))}</pre></details>` : '');
    return `<section class="run"><h3>${esc(r.name)} <small>${esc(path.resolve(r.dir))}</small></h3><ul>${items.map((i) => `<li>${i}</li>`).join('')}</ul>${cfg}</section>`;
  });

  const title = `rankdistill report: ${runs.map((r) => r.name).join(' vs ')}`;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${esc(title)}</title>
<style>
body { font-family: 'DejaVu Sans', 'Liberation Sans', Arial, Helvetica, sans-serif; margin: 24px auto; max-width: 1100px; color: #222; padding: 0 16px; }
h1 { font-size: 22px; } h2 { font-size: 18px; border-bottom: 1px solid #ddd; padding-bottom: 4px; margin-top: 32px; } h3 small { font-weight: normal; color: #777; font-size: 12px; }
.charts { display: flex; flex-wrap: wrap; gap: 16px; } figure.chart { margin: 0; } .chart svg { max-width: 100%; height: auto; }
table.eval { border-collapse: collapse; font-variant-numeric: tabular-nums; } table.eval th, table.eval td { border-bottom: 1px solid #e3e3e3; padding: 5px 10px; text-align: right; }
table.eval th:first-child, table.eval td:first-child { text-align: left; } td.up { color: #2e7d32; } td.down { color: #c62828; } td.sig { font-weight: bold; } td.base, .na { color: #888; }
.note { color: #555; font-size: 13px; } pre { background: #f6f6f6; padding: 10px; overflow-x: auto; font-size: 12px; } footer { margin-top: 40px; color: #888; font-size: 12px; }
</style></head>
<body>
<h1>${esc(title)}</h1>
<h2>Training curves</h2>
${curveSvgs.length ? `<div class="charts">${curveSvgs.map((c) => `<figure class="chart" id="curve-${c.name}">${c.svg}</figure>`).join('\n')}</div>` : '<p class="na">No training log (log.jsonl) in these runs.</p>'}
<h2>Evaluation</h2>
${table}
${deltaSvg ? `<h2>Per-query differences</h2>\n<figure class="chart" id="per-query">${deltaSvg}</figure>` : ''}
<h2>Run${many ? 's' : ''}</h2>
${summaries.join('\n')}
<footer>Made by rankdistill ${esc(libraryVersion())} on ${esc(new Date().toISOString())} from ${runs.map((r) => `<code>${esc(r.dir)}</code>`).join(', ')}.</footer>
</body></html>
`;
}

/** Reads the runs and writes the page to `out`; returns the page's path. */
export async function writeReport(dirs: string[], out: string, opts: ReportOptions = {}): Promise<string> {
  const names = new Map<string, number>();
  const runs = dirs.map((d) => {
    // Two runs with the same folder name get told apart by their parent.
    let name = path.basename(path.resolve(d));
    if (names.has(name)) name = `${path.basename(path.dirname(path.resolve(d)))}/${name}`;
    names.set(name, 1);
    return readRun(d, name);
  });
  const html = await renderReportPage(runs, opts);
  fs.mkdirSync(path.dirname(path.resolve(out)), { recursive: true });
  fs.writeFileSync(out, html);
  return out;
}

// Training curves from a run's log.jsonl (the Trainer's log): loss (raw and smoothed), learning rate,
// dev metrics and throughput, as Vega-Lite specs, written beside the log as curves.svg and curves.png.
// Several runs draw into the same panels (one colour each) for the report page.
import fs from 'node:fs';
import path from 'node:path';
import type { TopLevelSpec } from 'vega-lite';
import { renderSvg, svgToPng } from './charts.js';

export type LogRecord = Record<string, unknown> & { type?: string; step?: number };

/** Records of a log.jsonl; a cut last line (a kill mid-write) and foreign lines are skipped. */
export function readTrainingLog(file: string): LogRecord[] {
  if (!fs.existsSync(file)) return [];
  const out: LogRecord[] = [];
  for (const line of fs.readFileSync(file, 'utf8').split('\n')) {
    if (!line.trim()) continue;
    try {
      const r = JSON.parse(line) as unknown;
      if (r && typeof r === 'object' && !Array.isArray(r)) out.push(r as LogRecord);
    } catch {
      // the last line of a killed run
    }
  }
  return out;
}

/** Fields of an eval record that are not metrics. */
const EVAL_META = new Set(['type', 'step', 'epoch', 'time']);

export interface CurveRow {
  step: number;
  value: number;
  series: string;
}

export interface CurveData {
  loss: CurveRow[];
  lr: CurveRow[];
  dev: CurveRow[];
  throughput: CurveRow[];
}

/** The four panels' data from the logs of one or more runs (series named by run when there are several). */
export function curveData(runs: Array<{ name: string; records: LogRecord[] }>): CurveData {
  const d: CurveData = { loss: [], lr: [], dev: [], throughput: [] };
  const many = runs.length > 1;
  for (const { name, records } of runs) {
    const s = (what: string) => (many ? (what ? `${name}: ${what}` : name) : what || name);
    for (const r of records) {
      const step = r.step;
      if (typeof step !== 'number') continue;
      const num = (k: string) => (typeof r[k] === 'number' && Number.isFinite(r[k]) ? (r[k] as number) : undefined);
      if (r.type === 'train') {
        const loss = num('loss');
        if (loss !== undefined) d.loss.push({ step, value: loss, series: s('') });
        const lr = num('lr');
        if (lr !== undefined) d.lr.push({ step, value: lr, series: s('') });
        const tp = num('lists_per_s');
        if (tp !== undefined) d.throughput.push({ step, value: tp, series: s('') });
      } else if (r.type === 'eval') {
        for (const k of Object.keys(r)) {
          const v = num(k);
          if (!EVAL_META.has(k) && v !== undefined) d.dev.push({ step, value: v, series: s(k) });
        }
      }
    }
  }
  return d;
}

const WIDTH = 380;
const HEIGHT = 200;

function line(title: string | { text: string; subtitle: string }, rows: CurveRow[], y: string, opts: { smooth?: number; points?: boolean; scale?: 'linear' | 'log' } = {}): Record<string, unknown> {
  const x = { field: 'step', type: 'quantitative', title: 'optimiser step' };
  // One series needs no legend; several (runs, metrics) get one below the panel.
  const color = { field: 'series', type: 'nominal', title: null, legend: new Set(rows.map((r) => r.series)).size > 1 ? {} : null };
  const yEnc = { field: 'value', type: 'quantitative', title: y, scale: { zero: false, type: opts.scale ?? 'linear' } };
  const layers: Array<Record<string, unknown>> = [];
  if (opts.smooth && rows.length > 2 * opts.smooth) {
    // The raw curve faint, a trailing moving average on top.
    layers.push({ mark: { type: 'line', opacity: 0.25, strokeWidth: 1 }, encoding: { x, y: yEnc, color } });
    layers.push({
      transform: [{ window: [{ op: 'mean', field: 'value', as: 'smoothed' }], frame: [-opts.smooth, 0], groupby: ['series'], sort: [{ field: 'step' }] }],
      mark: { type: 'line', strokeWidth: 2 },
      encoding: { x, y: { ...yEnc, field: 'smoothed' }, color },
    });
  } else {
    layers.push({ mark: { type: 'line', strokeWidth: 2, point: opts.points ?? rows.length <= 30 }, encoding: { x, y: yEnc, color } });
  }
  return { title, width: WIDTH, height: HEIGHT, data: { values: rows }, layer: layers };
}

/** One Vega-Lite panel per quantity that was logged (empty ones left out). */
export function curvePanels(d: CurveData): Array<{ name: keyof CurveData; spec: Record<string, unknown> }> {
  const smooth = Math.max(2, Math.round(d.loss.length / 40));
  const panels: Array<{ name: keyof CurveData; spec: Record<string, unknown> }> = [];
  if (d.loss.length) panels.push({ name: 'loss', spec: line({ text: 'training loss', subtitle: `faint: each step; bold: mean of the last ${smooth + 1} steps` }, d.loss, 'loss', { smooth }) });
  if (d.lr.length) panels.push({ name: 'lr', spec: line('learning rate', d.lr, 'learning rate', { points: false }) });
  const devSeries = [...new Set(d.dev.map((r) => r.series))];
  if (d.dev.length) panels.push({ name: 'dev', spec: line('dev metrics', d.dev, devSeries.length === 1 ? devSeries[0] : 'value', { points: true }) });
  if (d.throughput.length) panels.push({ name: 'throughput', spec: line('training throughput', d.throughput, 'lists / s', { smooth: Math.max(2, Math.round(d.throughput.length / 40)) }) });
  return panels;
}

/** The panels two by two in one spec (for the PNG a person opens). */
export function curvesSpec(d: CurveData, title?: string): TopLevelSpec {
  const panels = curvePanels(d).map((p) => p.spec);
  const rows: Array<Record<string, unknown>> = [];
  for (let i = 0; i < panels.length; i += 2) rows.push({ hconcat: panels.slice(i, i + 2), resolve: { scale: { color: 'independent' }, legend: { color: 'independent' } }, spacing: 40 });
  return {
    ...(title ? { title } : {}),
    vconcat: rows.length ? rows : [{ mark: 'text', data: { values: [{}] }, encoding: { text: { value: 'nothing logged yet' } } }],
    // Each panel its own colours and legend (series differ between panels).
    resolve: { scale: { color: 'independent' }, legend: { color: 'independent' } },
    spacing: 30,
  } as unknown as TopLevelSpec;
}

/**
 * Writes curves.svg and curves.png beside `dir`/log.jsonl. Returns the files written (none when the
 * log has no training record yet).
 */
export async function writeTrainingCurves(dir: string, opts: { title?: string } = {}): Promise<string[]> {
  const records = readTrainingLog(path.join(dir, 'log.jsonl'));
  const d = curveData([{ name: path.basename(path.resolve(dir)), records }]);
  if (!d.loss.length && !d.dev.length) return [];
  const svg = await renderSvg(curvesSpec(d, opts.title));
  const png = await svgToPng(svg);
  const files = [path.join(dir, 'curves.svg'), path.join(dir, 'curves.png')];
  // Written whole, then renamed: a viewer never sees half a file.
  for (const [f, data] of [[files[0], svg], [files[1], png]] as const) {
    fs.writeFileSync(`${f}.tmp-${process.pid}`, data);
    fs.renameSync(`${f}.tmp-${process.pid}`, f);
  }
  return files;
}

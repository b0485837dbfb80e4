// Reports: training curves beside a run's log, and one HTML page comparing runs.
export { writeTrainingCurves, readTrainingLog, curveData, curvePanels, curvesSpec } from './training-curves.js';
export type { LogRecord, CurveData, CurveRow } from './training-curves.js';
export { writeReport, renderReportPage, readRun, compareWithBaseline } from './report-page.js';
export type { ReportOptions, RunFiles, SystemEvaluation } from './report-page.js';
export { renderSvg, svgToPng } from './charts.js';

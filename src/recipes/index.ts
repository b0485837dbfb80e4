// Recipes: complete jobs built on the public API (the demo: distil LLM teacher rankings into a small
// pretrained student, rerank TREC DL 2020, compare with BM25 and with the untouched checkpoint).
export { runDistillation, printReport, defaultDataDir, DEMO_DEFAULTS, DEMO_MODEL, RANKING_EXAMPLE, loadTeacherLists, dataFile } from './distillation.js';
export type { DistillationConfig, DistillationReport, SystemResult, TeacherListOptions, StudentConfig, StudentKind, Comparison } from './distillation.js';

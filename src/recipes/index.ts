// Recipes: complete jobs built on the public API (the demo: distil LLM teacher rankings into a small
// BERT cross-encoder, rerank TREC DL 2020, compare with BM25).
export { runDistillation, printReport, defaultDataDir, DEMO_DEFAULTS, loadTeacherLists, dataFile } from '../training/recipe.js';
export type { DistillationConfig, DistillationReport, SystemResult, TeacherListOptions } from '../training/recipe.js';

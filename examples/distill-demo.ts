// The main job (`npm run demo`): distil the LLM teacher into a small BERT cross-encoder trained from
// scratch, rerank DL20's BM25 top-100, and compare with BM25. Uses only the public API.
// Data: $RANKDISTILL_DATA (default ../shared/data). Output: runs/demo/ (log, report, model).
import { initBackend, runDistillation } from '../src/index.js';

const info = await initBackend();
console.log(`rankdistill demo on backend ${info.backend} (${info.package}@${info.version}, ${info.threads} threads)`);
const t0 = Date.now();
await runDistillation({ outputDir: process.env.DEMO_OUT ?? 'runs/demo' });
console.log(`\ndemo finished in ${((Date.now() - t0) / 60000).toFixed(1)} min`);

// The main job (`npm run demo`): distil LLM teacher rankings into a student that starts from the
// pretrained sentence-transformers/all-MiniLM-L6-v2 (fetched on first use), rerank DL20's BM25
// top-100, and compare with BM25 and with the untouched checkpoint. Uses only the public API.
// Data: $RANKDISTILL_DATA (default ../shared/data). Output: runs/demo/ (log, report, model).
// The first demo's student from random weights: `npx rankdistill train --config examples/configs/from-scratch.json`.
import { initBackend } from 'rankdistill';
import { runDistillation } from 'rankdistill/recipes';

const t0 = Date.now();
const info = await initBackend();
console.log(`rankdistill demo on backend ${info.backend} (${info.package}@${info.version}, ${info.threads} threads)`);
await runDistillation({ outputDir: process.env.DEMO_OUT ?? 'runs/demo' });
console.log(`\ndemo finished in ${((Date.now() - t0) / 60000).toFixed(1)} min`);

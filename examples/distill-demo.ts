
import { initBackend } from 'rankdistill';
import { runDistillation } from 'rankdistill/recipes';

const info = await initBackend();
console.log(`rankdistill demo on backend ${info.backend} (${info.package}@${info.version}, ${info.threads} threads)`);
const t0 = Date.now();
await runDistillation({ outputDir: process.env.DEMO_OUT ?? 'runs/demo' });
console.log(`\ndemo finished in ${((Date.now() - t0) / 60000).toFixed(1)} min`);

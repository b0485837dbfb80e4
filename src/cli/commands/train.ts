import { parseArgs } from 'node:util';
import { initBackend } from '../../backend/index.js';
import { runDistillation, type DistillationConfig } from '../../training/recipe.js';
import { readJsonObject } from '../../io/json.js';

export const usage = `usage: rankdistill train [--config FILE] [--data DIR] [--out DIR] [--init CHECKPOINT]

Distils LLM teacher rankings into a student and evaluates it on TREC DL 2020 against BM25 and the
untouched checkpoint (the recipe of \`npm run demo\`). Without --config the demo defaults are used:
sentence-transformers/all-MiniLM-L6-v2 (fetched on first use) as a late-interaction student. The
config is JSON with the fields of DistillationConfig; examples/configs/ has the from-scratch
cross-encoder (from-scratch.json) and every variant of docs/recipes.md, e.g.
  {"student": {"kind": "cross-encoder", "pooling": "mean"},
   "trainer": {"lr": 5e-5, "maxSteps": 100, "listSize": 16, "listsPerBatch": 4}}
--data overrides dataDir (default $RANKDISTILL_DATA or ../shared/data); --out saves the log, the
report and the model; --init starts from another checkpoint (a Hub id or a folder).`;

export async function run(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      config: { type: 'string' },
      data: { type: 'string' },
      out: { type: 'string' },
      init: { type: 'string' },
    },
  });
  const cfg = (values.config ? readJsonObject(values.config, 'the training config') : {}) as DistillationConfig;
  if (values.data) cfg.dataDir = values.data;
  if (values.out) cfg.outputDir = values.out;
  if (values.init) cfg.init = values.init;
  const info = await initBackend();
  console.log(`backend: ${info.backend} (${info.package}@${info.version})`);
  await runDistillation(cfg);
  return 0;
}

import { parseArgs } from 'node:util';
import { initBackend } from '../../backend/index.js';
import { runDistillation, type DistillationConfig } from '../../training/recipe.js';
import { readJsonObject } from '../../io/json.js';

export const usage = `usage: rankdistill train [--config FILE] [--data DIR] [--out DIR] [--init CHECKPOINT_DIR]

Distils LLM teacher rankings into a BERT cross-encoder and evaluates it on TREC DL 2020 (the recipe
of \`npm run demo\`). Without --config the demo defaults are used. The config is JSON with the fields
of DistillationConfig, e.g.
  {"model": {"hidden_size": 256, "num_hidden_layers": 4, "num_attention_heads": 4, "intermediate_size": 1024},
   "teacherRuns": ["llm-rerank-runs-dl19/run.setwise.heapsort.openai_4o_mini.n3.txt"],
   "trainer": {"epochs": 3, "lr": 3e-4, "listSize": 16, "listsPerBatch": 8}}
--data overrides dataDir (default $RANKDISTILL_DATA or ../shared/data); --out saves the log, the
report and the model (HF format); --init starts from a pretrained checkpoint directory.`;

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

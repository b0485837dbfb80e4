// `rankdistill report RUN_DIR [OTHER_RUN…]`: one HTML page from the files training runs wrote.
import path from 'node:path';
import { parseArgs } from 'node:util';
import { writeReport } from '../../reporting/report-page.js';
import { InputError } from '../../utils/errors.js';

export const usage = `usage: rankdistill report RUN_DIR [OTHER_RUN_DIR …] [--out FILE] [--baseline SYSTEM] [--measure KEY]

Renders one self-contained HTML page (inline SVG charts, no script, nothing fetched) from the files
training runs wrote (\`rankdistill train --out DIR\`, \`npm run demo\`, a Trainer's outputDir):
  - training curves from log.jsonl: loss, learning rate, dev metrics, throughput (runs overlaid);
  - the evaluation table from report.json, with paired t-tests and randomization tests of each
    system against a baseline on per-query values;
  - the per-query differences against that baseline as a plot;
  - each run's summary and config (manifest.json, or the checkpoint's trainer state).

  --out FILE         the page (default RUN_DIR/report.html of the first run)
  --baseline SYSTEM  baseline system of the first run's report.json (default bm25, else the first
                     system with per-query values)
  --measure KEY      measure of the tests and the plot (default ndcg10)`;

export async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      out: { type: 'string' },
      baseline: { type: 'string' },
      measure: { type: 'string' },
    },
  });
  if (!positionals.length) throw new InputError(`give at least one run folder\n\n${usage}`);
  const out = values.out ?? path.join(positionals[0], 'report.html');
  await writeReport(positionals, out, { baseline: values.baseline, measure: values.measure });
  console.log(`report: ${out}`);
  return 0;
}

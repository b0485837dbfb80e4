// `rankdistill labels-to-run`: teacher labels (`rankdistill label` output) → a TREC run for `eval`.
import { parseArgs } from 'node:util';
import { writeTrecRun } from '../../data/index.js';
import { labelsToRun, readTeacherLabels } from '../../teacher/index.js';
import { InputError } from '../../utils/errors.js';

export const usage = `usage: rankdistill labels-to-run --labels FILE --out RUN [--tag NAME] [--no-hard-negatives]

Writes teacher labels as a TREC run: per query the documents the teacher ranked (rank 1, 2, …), then
its hard negatives (RRADistill: documents shown to it and left out of its answer) below them in the
order they were shown. Ranks are unique and scores fall with rank (score = n − rank + 1), so
\`rankdistill eval\` gives the same numbers with and without --by-rank. Labels with a failed ranking
are not in a labels file (they go to the failures file) and queries with nothing ranked are skipped.

  --labels FILE          labels (JSONL) from \`rankdistill label\`
  --out RUN              TREC run to write
  --tag NAME             run tag (default teacher)
  --no-hard-negatives    only the documents the teacher ranked`;

export async function run(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      labels: { type: 'string' },
      out: { type: 'string' },
      tag: { type: 'string' },
      'no-hard-negatives': { type: 'boolean', default: false },
    },
  });
  if (!values.labels || !values.out) throw new InputError('--labels and --out are required (see --help)');
  if (values.tag !== undefined && (!values.tag || /\s/.test(values.tag))) throw new InputError(`a run tag has no whitespace, got '${values.tag}'`, { field: '--tag' });
  const { labels } = await readTeacherLabels(values.labels);
  const run = labelsToRun(labels, { tag: values.tag, hardNegatives: !values['no-hard-negatives'] });
  await writeTrecRun(values.out, run);
  const docs = [...run.values()].reduce((a, l) => a + l.length, 0);
  console.log(`wrote ${values.out}: ${run.size} queries, ${docs} documents (${labels.length - run.size} labels without a ranking skipped)`);
  return 0;
}

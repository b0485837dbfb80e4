import { parseArgs } from 'node:util';
import { initBackend, type BackendPreference } from '../../backend/index.js';

export const usage = `usage: rankdistill doctor [--json] [--backend auto|tfjs-node-gpu|tfjs-node|wasm|cpu]

Prints the tensor backend rankdistill uses, its package and version, the TensorFlow version (native
backends) and the thread count. RANKDISTILL_BACKEND chooses the backend like --backend.`;

export async function run(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: { json: { type: 'boolean', default: false }, backend: { type: 'string' } },
  });
  const info = await initBackend({ backend: values.backend as BackendPreference | undefined });
  if (values.json) {
    console.log(JSON.stringify({ ...info, node: process.version, platform: `${process.platform}-${process.arch}` }, null, 2));
  } else {
    console.log(`backend      ${info.backend}`);
    console.log(`package      ${info.package}@${info.version}`);
    console.log(`tfjs-core    ${info.tfjsCore}`);
    console.log(`tensorflow   ${info.tensorflow ?? '-'}`);
    console.log(`threads      ${info.threads}`);
    console.log(`node         ${process.version} (${process.platform}-${process.arch})`);
    if (info.fallbackReason) console.log(`note         faster backends unavailable: ${info.fallbackReason}`);
  }
  return 0;
}

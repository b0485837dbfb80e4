// Counts the names each public entry point exports (values and types), as TypeScript sees them:
// `node scripts/api-size.mjs` (entries from package.json `exports`, mapped back to src/), or
// `node scripts/api-size.mjs src/index.ts …` for given files.
import fs from 'node:fs';
import path from 'node:path';
import ts from 'typescript';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
let entries = process.argv.slice(2).map((f) => [f, path.resolve(f)]);
if (!entries.length) {
  const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'));
  const ex = typeof pkg.exports === 'string' ? { '.': pkg.exports } : pkg.exports;
  entries = Object.entries(ex).map(([k, v]) => {
    const js = typeof v === 'string' ? v : v.import ?? v.default;
    return [k === '.' ? 'rankdistill' : `rankdistill/${k.slice(2)}`, path.join(root, js.replace(/^\.\/dist\//, '').replace(/\.js$/, '.ts'))];
  });
}
const program = ts.createProgram(entries.map((e) => e[1]), { module: ts.ModuleKind.NodeNext, moduleResolution: ts.ModuleResolutionKind.NodeNext, target: ts.ScriptTarget.ES2022, strict: true, skipLibCheck: true, noEmit: true });
const checker = program.getTypeChecker();
let total = 0;
for (const [name, file] of entries) {
  const sf = program.getSourceFile(file);
  if (!sf) throw new Error(`${file}: not found`);
  const exports = checker.getExportsOfModule(checker.getSymbolAtLocation(sf));
  const values = exports.filter((s) => {
    const t = s.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(s) : s;
    return (t.flags & ts.SymbolFlags.Value) !== 0;
  }).length;
  total += exports.length;
  console.log(`${name.padEnd(28)} ${String(exports.length).padStart(4)} names (${values} values, ${exports.length - values} types only)`);
}
if (entries.length > 1) console.log(`${'all entry points'.padEnd(28)} ${String(total).padStart(4)} names`);

// The import graph of src/, read with TypeScript's own pre-processor (static, type-only, re-exports and
// dynamic imports alike), and the layer order it must follow (docs/api.md, "Layers").
import fs from 'node:fs';
import path from 'node:path';
import ts from 'typescript';

/**
 * Folders of src/, lowest first. A folder imports only folders of lower layers; folders of one layer
 * never import each other. src/index.ts (the root entry) may import any folder.
 */
export const LAYERS: readonly (readonly string[])[] = [
  ['utils'],
  ['io', 'backend', 'hub'],
  // tokenization reads GGUF metadata through io/
  ['tokenization', 'losses'],
  ['models'],
  ['data'],
  ['augmentation', 'retrieval', 'teacher', 'reranking'],
  ['evaluation'],
  ['reporting'],
  ['training'],
  ['recipes'],
  ['cli'],
];

export interface Edge {
  from: string;
  to: string;
  /** The specifier as written. */
  spec: string;
  /** `import type` / `export type` (or every name marked `type`): no runtime dependency. */
  typeOnly: boolean;
}

/** Every .ts file under `dir`, sorted. */
export function tsFiles(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (/\.(m?ts)$/.test(e.name) && !e.name.endsWith('.d.ts')) out.push(p);
    }
  };
  walk(dir);
  return out.sort();
}

/** Module specifiers a file imports or re-exports, static or `import()`; `typeOnly` when erased at runtime. */
export function specifiers(file: string): Array<{ spec: string; typeOnly: boolean }> {
  const sf = ts.createSourceFile(file, fs.readFileSync(file, 'utf8'), ts.ScriptTarget.ES2022, true);
  const out: Array<{ spec: string; typeOnly: boolean }> = [];
  const visit = (n: ts.Node) => {
    if ((ts.isImportDeclaration(n) || ts.isExportDeclaration(n)) && n.moduleSpecifier && ts.isStringLiteral(n.moduleSpecifier)) {
      let typeOnly = false;
      if (ts.isImportDeclaration(n)) {
        const c = n.importClause;
        const named = c?.namedBindings && ts.isNamedImports(c.namedBindings) ? c.namedBindings.elements : null;
        typeOnly = !!c && (c.isTypeOnly || (!c.name && !!named && named.length > 0 && named.every((e) => e.isTypeOnly)));
      } else {
        const named = n.exportClause && ts.isNamedExports(n.exportClause) ? n.exportClause.elements : null;
        typeOnly = n.isTypeOnly || (!!named && named.length > 0 && named.every((e) => e.isTypeOnly));
      }
      out.push({ spec: n.moduleSpecifier.text, typeOnly });
    } else if (ts.isCallExpression(n) && n.expression.kind === ts.SyntaxKind.ImportKeyword && n.arguments[0] && ts.isStringLiteral(n.arguments[0])) {
      out.push({ spec: n.arguments[0].text, typeOnly: false });
    } else if (ts.isImportTypeNode(n) && ts.isLiteralTypeNode(n.argument) && ts.isStringLiteral(n.argument.literal)) {
      out.push({ spec: n.argument.literal.text, typeOnly: true });
    }
    ts.forEachChild(n, visit);
  };
  visit(sf);
  return out;
}

/** Relative imports of the given files, resolved to files (`.js` written for `.ts`, folders to index.ts). */
export function relativeEdges(files: readonly string[]): Edge[] {
  const edges: Edge[] = [];
  for (const from of files) {
    for (const { spec, typeOnly } of specifiers(from)) {
      if (!spec.startsWith('.')) continue;
      const base = path.resolve(path.dirname(from), spec);
      const to = [base.replace(/\.js$/, '.ts'), base.replace(/\.mjs$/, '.mts'), `${base}.ts`, path.join(base, 'index.ts'), base].find((c) => fs.existsSync(c) && fs.statSync(c).isFile());
      edges.push({ from, to: to ?? base, spec, typeOnly });
    }
  }
  return edges;
}

/** The folder of src/ a file belongs to ('' for files directly in src/). */
export function folderOf(srcDir: string, file: string): string {
  const rel = path.relative(srcDir, file).split(path.sep);
  return rel.length > 1 ? rel[0] : '';
}

/** Upward and sideways imports between folders of src/, one message each. */
export function layerViolations(srcDir: string, edges: readonly Edge[], layers = LAYERS): string[] {
  const rank = new Map<string, number>();
  layers.forEach((fs_, i) => fs_.forEach((f) => rank.set(f, i)));
  const out: string[] = [];
  const rel = (f: string) => path.relative(path.dirname(srcDir), f);
  for (const e of edges) {
    const a = folderOf(srcDir, e.from);
    if (a === '') continue; // the root entry
    const b = path.relative(srcDir, e.to).startsWith('..') ? null : folderOf(srcDir, e.to);
    if (b === null) {
      out.push(`${rel(e.from)} imports '${e.spec}', outside src/`);
      continue;
    }
    if (a === b) continue;
    const ra = rank.get(a);
    const rb = b === '' ? Infinity : rank.get(b);
    if (ra === undefined) {
      out.push(`${rel(e.from)}: folder src/${a}/ has no layer (add it to LAYERS in test/architecture/import-graph.ts and to docs/api.md)`);
      continue;
    }
    if (rb === undefined) {
      out.push(`${rel(e.to)}: folder src/${b}/ has no layer (add it to LAYERS in test/architecture/import-graph.ts and to docs/api.md)`);
      continue;
    }
    if (rb >= ra) {
      const why = rb === ra ? 'the same layer' : `a higher layer (${rb === Infinity ? 'the root entry' : `layer ${rb}`})`;
      out.push(`${rel(e.from)} imports ${rel(e.to)} ('${e.spec}'): ${a}/ (layer ${ra}) may not import ${b === '' ? 'src/index.ts' : `${b}/`}, ${why}`);
    }
  }
  return [...new Set(out)];
}

/**
 * Import cycles between files (each as a → b → … → a), found by depth-first search over the runtime
 * imports (type-only imports are erased, so a cycle through one loads fine).
 */
export function cycles(edges: readonly Edge[]): string[][] {
  const next = new Map<string, string[]>();
  for (const e of edges) if (!e.typeOnly) next.set(e.from, [...(next.get(e.from) ?? []), e.to]);
  const state = new Map<string, 1 | 2>(); // 1 on the stack, 2 done
  const stack: string[] = [];
  const found: string[][] = [];
  const visit = (f: string) => {
    state.set(f, 1);
    stack.push(f);
    for (const t of next.get(f) ?? []) {
      const s = state.get(t);
      if (s === 1) found.push([...stack.slice(stack.indexOf(t)), t]);
      else if (s === undefined) visit(t);
    }
    stack.pop();
    state.set(f, 2);
  };
  for (const f of [...next.keys()].sort()) if (!state.has(f)) visit(f);
  return found;
}

#!/usr/bin/env node
// Import cycles among the non-test source files of packages/*/src: prints each cycle and exits 1,
// or says there are none. Type-only imports count (a cycle of types still ties the files
// together), and so do imports between packages by name (`@sessiontrack/store`, resolved through
// the package's "source" export). Test files (*.test.ts, *.testkit.ts, *.case.ts) are left out.
//
//   node scripts/import-cycles.mjs [root]      (npm run check:cycles)

import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import ts from 'typescript';

const root = resolve(process.argv[2] ?? join(import.meta.dirname, '..'));
const TEST = /\.(test|testkit|case)\.tsx?$/;
const SOURCE = /\.tsx?$/;

/** Every non-test .ts/.tsx file under packages/<pkg>/src. */
function sourceFiles() {
  const out = [];
  const walk = (dir) => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (SOURCE.test(e.name) && !TEST.test(e.name) && !e.name.endsWith('.d.ts')) out.push(p);
    }
  };
  const packages = join(root, 'packages');
  for (const pkg of readdirSync(packages)) {
    const src = join(packages, pkg, 'src');
    if (existsSync(src) && statSync(src).isDirectory()) walk(src);
  }
  return out.sort();
}

/** A relative specifier as TypeScript resolves it under NodeNext (`./x.js` → `./x.ts`). */
function resolveRelative(from, spec) {
  const base = resolve(dirname(from), spec);
  const stem = base.replace(/\.(m|c)?jsx?$/, '');
  for (const candidate of [`${stem}.ts`, `${stem}.tsx`, join(base, 'index.ts'), join(base, 'index.tsx')]) {
    if (existsSync(candidate)) return candidate;
  }
  return null;
}

const manifests = new Map();
/** `@sessiontrack/<pkg>[/<sub>]` → the file of its "source" export. */
function resolvePackage(spec) {
  const m = /^@sessiontrack\/([^/]+)(\/.*)?$/.exec(spec);
  if (!m) return null;
  const dir = join(root, 'packages', m[1]);
  const file = join(dir, 'package.json');
  if (!existsSync(file)) return null;
  if (!manifests.has(file)) manifests.set(file, JSON.parse(readFileSync(file, 'utf8')));
  const exported = manifests.get(file).exports?.[`.${m[2] ?? ''}`];
  const source = typeof exported === 'object' ? exported?.source : undefined;
  return source ? resolve(dir, source) : null;
}

const files = sourceFiles();
const known = new Set(files);
const edges = new Map();
for (const file of files) {
  const info = ts.preProcessFile(readFileSync(file, 'utf8'), true, true);
  const targets = new Set();
  for (const { fileName } of info.importedFiles) {
    const target = fileName.startsWith('.') ? resolveRelative(file, fileName) : resolvePackage(fileName);
    if (target && known.has(target)) targets.add(target);
  }
  edges.set(file, [...targets]);
}

// Tarjan's strongly connected components: every component of more than one file (or a file that
// imports itself) holds a cycle.
let index = 0;
const stack = [];
const state = new Map();
const components = [];
function connect(v) {
  const s = { index, low: index, onStack: true };
  index++;
  state.set(v, s);
  stack.push(v);
  for (const w of edges.get(v)) {
    const t = state.get(w);
    if (!t) {
      connect(w);
      s.low = Math.min(s.low, state.get(w).low);
    } else if (t.onStack) s.low = Math.min(s.low, t.index);
  }
  if (s.low === s.index) {
    const component = [];
    let w;
    do {
      w = stack.pop();
      state.get(w).onStack = false;
      component.push(w);
    } while (w !== v);
    if (component.length > 1 || edges.get(v).includes(v)) components.push(component);
  }
}
for (const f of files) if (!state.has(f)) connect(f);

/** One cycle through `start` inside its component, as a path of files (breadth-first: the shortest). */
function cycleThrough(start, members) {
  const inside = new Set(members);
  const previous = new Map([[start, null]]);
  const queue = [start];
  while (queue.length > 0) {
    const v = queue.shift();
    for (const w of edges.get(v)) {
      if (w === start) {
        const path = [start];
        for (let u = v; u !== start; u = previous.get(u)) path.splice(1, 0, u);
        return [...path, start];
      }
      if (inside.has(w) && !previous.has(w)) {
        previous.set(w, v);
        queue.push(w);
      }
    }
  }
  return [start, start];
}

const rel = (f) => relative(root, f);
if (components.length === 0) {
  console.log(`import cycles among ${files.length} non-test files of packages/*/src: none`);
} else {
  console.log(`import cycles among ${files.length} non-test files of packages/*/src: ${components.length}`);
  for (const c of components) {
    const start = [...c].sort()[0];
    console.log(`  ${cycleThrough(start, c).map(rel).join(' → ')}${c.length > 2 ? `  (${c.length} files tied)` : ''}`);
  }
  process.exitCode = 1;
}

import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { gzipSync } from 'node:zlib';
import { build } from 'esbuild';
import { minify } from 'terser';

// Builds dist/tracker.min.js (script tag), dist/index.js (ESM) and dist/react.js (ESM, React external);
// the .d.ts files come from `tsc -b`. Prints the script's gzipped size and fails above the budget.

const root = dirname(fileURLToPath(import.meta.url));
const dist = join(root, 'dist');

/** Bytes of dist/tracker.min.js after gzip -9: issue #4's budget. */
export const BUDGET = 1500;

const common = { bundle: true, target: 'es2020', platform: 'browser', legalComments: 'none', logLevel: 'warning' };

/**
 * The minified script-tag build, in memory. esbuild bundles (and simplifies the syntax: `let` for
 * `const`, …); terser minifies: its compressor and mangler give some 60 bytes fewer after gzip
 * than esbuild's minifier on this code, which is what let engaged time (#15) fit the budget.
 */
export async function buildScript() {
  const r = await build({
    ...common,
    entryPoints: [join(root, 'src/script.ts')],
    format: 'iife',
    minifySyntax: true,
    // No "use strict" prologue: the code is strict-clean either way, and it costs bytes.
    tsconfigRaw: { compilerOptions: { alwaysStrict: false } },
    write: false,
  });
  const out = await minify(r.outputFiles[0].text, {
    ecma: 2020,
    toplevel: true,
    // The unsafe options assume nothing this code does not do: no getters with side effects, no
    // methods that use `this` or `arguments`, booleans used only as truth values.
    compress: {
      passes: 2,
      unsafe: true,
      unsafe_arrows: true,
      unsafe_methods: true,
      pure_getters: true,
      hoist_props: true,
      booleans_as_integers: true,
    },
    mangle: { toplevel: true },
  });
  return new TextEncoder().encode(out.code);
}

export const gzipSize = (bytes) => gzipSync(bytes, { level: 9 }).length;

async function main() {
  mkdirSync(dist, { recursive: true });
  const script = await buildScript();
  writeFileSync(join(dist, 'tracker.min.js'), script);
  await build({ ...common, entryPoints: [join(root, 'src/index.ts')], format: 'esm', outfile: join(dist, 'index.js') });
  // Not bundled: react.js imports ./index.js, so the app and the component share one tracker.
  await build({
    ...common,
    bundle: false,
    entryPoints: [join(root, 'src/react.tsx')],
    format: 'esm',
    jsx: 'automatic',
    outfile: join(dist, 'react.js'),
  });
  const size = gzipSize(script);
  console.log(`dist/tracker.min.js: ${script.length} bytes, ${size} bytes gzipped (budget ${BUDGET})`);
  if (size > BUDGET) {
    console.error(`dist/tracker.min.js is ${size - BUDGET} bytes over the budget of ${BUDGET} bytes gzipped`);
    process.exitCode = 1;
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) await main();

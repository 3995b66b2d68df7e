#!/usr/bin/env node
// Fails when package-lock.json has drifted from the package.json files in a way `npm ci` refuses
// ("Missing: @biomejs/cli-android-arm64@2.6.8 from lock file"), offline and in a second, so that
// `npm test` catches it before a deployment's `npm ci` does. Two checks, as npm ci makes them:
//   1. every dependency a manifest (the root, each workspace) declares is recorded in the lock with
//      the same range;
//   2. every dependency of every locked package — optional ones too, for every platform, since
//      `npm ci` checks them all — resolves to a locked package, by node_modules lookup.
// .ci/run installs with `npm ci`, which refuses the same drift (and more) against the registry.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

const root = join(import.meta.dirname, '..');
const read = (file) => JSON.parse(readFileSync(join(root, file), 'utf8'));
const lock = read('package-lock.json');
const packages = lock.packages ?? {};
const problems = [];

const FIELDS = ['dependencies', 'devDependencies', 'optionalDependencies', 'peerDependencies'];
const manifest = read('package.json');
for (const [path, m] of [['', manifest], ...(manifest.workspaces ?? []).map((w) => [w, read(`${w}/package.json`)])]) {
  const locked = packages[path];
  if (!locked) {
    problems.push(`${path || 'the root'}: not in the lock file`);
    continue;
  }
  for (const field of FIELDS) {
    const want = m[field] ?? {};
    const have = locked[field] ?? {};
    for (const name of new Set([...Object.keys(want), ...Object.keys(have)])) {
      if (want[name] !== have[name]) {
        problems.push(
          `${path || 'package.json'} ${field}: ${name} is ${want[name] ?? 'absent'} in package.json, ${have[name] ?? 'absent'} in the lock`,
        );
      }
    }
  }
}

/** node_modules lookup from a locked package's folder upwards (`a/node_modules/b` → `a` → root). */
function resolves(from, name) {
  let dir = from;
  for (;;) {
    if (packages[`${dir ? `${dir}/` : ''}node_modules/${name}`]) return true;
    if (!dir) return false;
    const cut = dir.lastIndexOf('/node_modules/');
    dir = cut >= 0 ? dir.slice(0, cut) : '';
  }
}

for (const [path, entry] of Object.entries(packages)) {
  if (entry.link) continue;
  const optionalPeers = entry.peerDependenciesMeta ?? {};
  const needed = {
    ...entry.dependencies,
    ...entry.optionalDependencies,
    ...Object.fromEntries(Object.entries(entry.peerDependencies ?? {}).filter(([n]) => !optionalPeers[n]?.optional)),
  };
  // A workspace's devDependencies are installed too; a registry package's never are.
  if (!path.includes('node_modules/')) Object.assign(needed, entry.devDependencies);
  for (const name of Object.keys(needed)) {
    if (!resolves(path, name)) problems.push(`Missing: ${name} from lock file (needed by ${path || 'the root'})`);
  }
}

if (problems.length > 0) {
  console.error(`package-lock.json has drifted; \`npm ci\` would refuse it. Run \`npm install\` and commit the lock.`);
  for (const p of problems.slice(0, 20)) console.error(`  ${p}`);
  if (problems.length > 20) console.error(`  … and ${problems.length - 20} more`);
  process.exit(1);
}
console.log(`package-lock.json: ${Object.keys(packages).length} packages, in step with every package.json`);

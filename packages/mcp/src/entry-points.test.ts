import { readFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

// An MCP server that uses only the remote sink must not install (or load) @sessiontrack/store and
// its native drivers: the main entry reaches only what package.json makes it install, and the
// embedded sink, behind `@sessiontrack/mcp/embedded`, is the one place that reaches the store.
// Type-only imports count too: the published declarations would name the package as well.

const SRC = import.meta.dirname;
const pkg = JSON.parse(readFileSync(join(SRC, '../package.json'), 'utf8')) as {
  exports: Record<string, { source: string }>;
  dependencies: Record<string, string>;
  peerDependencies: Record<string, string>;
  peerDependenciesMeta: Record<string, { optional?: boolean }>;
};

/** The packages the modules reachable from `entry` import (by relative imports, of any kind). */
function packagesReachedFrom(entry: string): Set<string> {
  const seen = new Set<string>();
  const packages = new Set<string>();
  const visit = (file: string) => {
    if (seen.has(file)) return;
    seen.add(file);
    const { importedFiles } = ts.preProcessFile(readFileSync(file, 'utf8'), true, true);
    for (const { fileName: spec } of importedFiles) {
      if (spec.startsWith('.')) visit(resolve(dirname(file), spec.replace(/\.js$/, '.ts')));
      else packages.add(spec.startsWith('@') ? spec.split('/', 2).join('/') : (spec.split('/', 1)[0] as string));
    }
  };
  visit(resolve(SRC, '..', entry));
  return packages;
}

const builtin = (p: string) => p.startsWith('node:') || builtinModules.includes(p);

describe('entry points', () => {
  it('the main entry reaches only its dependencies and required peers, never @sessiontrack/store', () => {
    const reached = [...packagesReachedFrom(pkg.exports['.']?.source as string)].filter((p) => !builtin(p));
    const required = Object.keys(pkg.peerDependencies).filter((p) => !pkg.peerDependenciesMeta[p]?.optional);
    const installed = new Set([...Object.keys(pkg.dependencies), ...required]);
    expect(reached).not.toContain('@sessiontrack/store');
    expect(reached.filter((p) => !installed.has(p))).toEqual([]);
    expect(reached).toContain('@sessiontrack/core');
  });

  it('@opentelemetry/api is an optional peer, loaded only if installed (never imported, not even its types)', () => {
    expect(pkg.peerDependenciesMeta['@opentelemetry/api']?.optional).toBe(true);
    expect(Object.keys(pkg.dependencies)).not.toContain('@opentelemetry/api');
    expect([...packagesReachedFrom(pkg.exports['.']?.source as string)]).not.toContain('@opentelemetry/api');
  });

  it('the embedded subpath is where the store comes in, as an optional peer', () => {
    const reached = packagesReachedFrom(pkg.exports['./embedded']?.source as string);
    expect(reached).toContain('@sessiontrack/store');
    expect(pkg.peerDependenciesMeta['@sessiontrack/store']?.optional).toBe(true);
    expect(Object.keys(pkg.dependencies)).not.toContain('@sessiontrack/store');
  });
});

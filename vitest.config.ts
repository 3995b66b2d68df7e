import { defineConfig } from 'vitest/config';

// Tests import sibling workspaces through their "source" export condition, so they run against
// the TypeScript sources and never against a stale dist/.
export default defineConfig({
  resolve: { conditions: ['source'] },
  ssr: { resolve: { conditions: ['source'], externalConditions: ['source'] } },
  test: {
    // e2e/: the browser tracker in Debian's Chromium against the real server (skipped, with a
    // printed reason, where /usr/bin/chromium is missing).
    include: ['packages/*/src/**/*.test.ts', 'e2e/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // eventsource-parser (imported by the MCP SDK's client) exports a "source" condition pointing
    // at its .ts files: transform it like our own sources instead of handing it to Node.
    server: { deps: { inline: [/@modelcontextprotocol\/sdk/, 'eventsource-parser'] } },
  },
});

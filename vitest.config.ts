import type { Plugin } from 'vite';
import { defineConfig } from 'vitest/config';

// The MCP SDK (inlined below) ships source maps whose sources it does not ship; Vite warns once per
// file (26 lines per run) about something no test can act on. Vitest installs its own logger, so
// the filter wraps the resolved one. Every other warning passes through.
const quietSdkSourcemaps: Plugin = {
  name: 'quiet-sdk-sourcemaps',
  configResolved(config) {
    const warnOnce = config.logger.warnOnce.bind(config.logger);
    config.logger.warnOnce = (msg, options) => {
      if (msg.includes('points to missing source files') && msg.includes('@modelcontextprotocol')) return;
      warnOnce(msg, options);
    };
  },
};

export default defineConfig({
  plugins: [quietSdkSourcemaps],
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

import { describe, expect, it } from 'vitest';
import { BUDGET, buildScript, gzipSize } from '../build.mjs';

// Goal 1 of the tracker is its size (README.md). This builds the script tag's file from the current
// sources, exactly as `npm run build` does, and fails above the budget.

describe('dist/tracker.min.js', () => {
  it(`is at most ${BUDGET} bytes gzipped`, async () => {
    const script = await buildScript();
    const size = gzipSize(script);
    console.log(`tracker.min.js: ${script.length} bytes, ${size} bytes gzipped (budget ${BUDGET})`);
    expect(BUDGET).toBe(1500);
    expect(size).toBeLessThanOrEqual(BUDGET);
  });

  it('is one IIFE that leaves nothing but window.sessiontrack behind', async () => {
    const text = new TextDecoder().decode(await buildScript());
    expect(text).toMatch(/^\(\(\)=>\{/);
    expect(text.trimEnd()).toMatch(/\}\)\(\);$/);
  });
});

import { createElement } from 'react';
import { renderToString } from 'react-dom/server';
import { describe, expect, it } from 'vitest';
import { SessionTracker, useSessionTracker } from './react.js';

// Server rendering only: the browser behaviour of the component (StrictMode, one session) is proven
// by the e2e suite in Chromium.

let seen: ReturnType<typeof useSessionTracker> | undefined;
function Probe() {
  seen = useSessionTracker();
  return null;
}

describe('react bindings during server rendering', () => {
  it('render nothing, start nothing, and report no ids', () => {
    const html = renderToString(
      createElement('div', null, createElement(SessionTracker, { writeKey: 'wk_x' }), createElement(Probe)),
    );
    expect(html).toBe('<div></div>');
    expect(seen).toMatchObject({ anonymousId: null, sessionId: null });
    expect(typeof seen?.trackAction).toBe('function');
    expect(typeof seen?.identify).toBe('function');
    expect(typeof seen?.end).toBe('function');
  });
});

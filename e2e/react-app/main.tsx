import { SessionTracker, useSessionTracker } from '@sessiontrack/tracker/react';
import { StrictMode, useEffect } from 'react';
import { createRoot } from 'react-dom/client';

// The React example the e2e suite builds with Vite (development build, so StrictMode mounts every
// component twice) and loads in Chromium. The write key and endpoint come from the page, which
// the test serves.

interface ExampleGlobals {
  sessiontrackExample: { writeKey: string; endpoint: string };
  /** How many times Shop's mount effect ran: 2 proves StrictMode's double mount happened. */
  shopMounts?: number;
}
const globals = window as unknown as Window & ExampleGlobals;
const { writeKey, endpoint } = globals.sessiontrackExample;

function Shop() {
  const { anonymousId, sessionId, trackAction } = useSessionTracker();
  useEffect(() => {
    globals.shopMounts = (globals.shopMounts ?? 0) + 1;
  }, []);
  return (
    <main>
      <h1>Shop</h1>
      <p>
        session <output data-testid="session">{sessionId ?? ''}</output>
      </p>
      <p>
        visitor <output data-testid="anonymous">{anonymousId ?? ''}</output>
      </p>
      <button type="button" onClick={() => trackAction('add-to-cart', { resourceId: 'sku-42', metadata: { qty: 2 } })}>
        Add to cart
      </button>
    </main>
  );
}

const root = document.getElementById('root');
if (!root) throw new Error('no #root');
createRoot(root).render(
  <StrictMode>
    <SessionTracker writeKey={writeKey} endpoint={endpoint} />
    <Shop />
  </StrictMode>,
);

// The console's live feed: decisions as Server-Sent Events, sampled above LIVE_RATE a second.
import type { Hono } from 'hono';
import { streamSSE } from 'hono/streaming';
import type { ConsoleEnv, CsrfTokens } from './access.js';
import { LIVE_RATE, type LiveDecision } from './decisions.js';
import type { ConsoleDeps } from './deps.js';
import { guard } from './guard.js';

/** GET /events: decisions as Server-Sent Events, sampled above LIVE_RATE a second. */
export function liveRoute(app: Hono<ConsoleEnv>, deps: ConsoleDeps, csrf: CsrfTokens): void {
  app.get('/console/events', async (c) => {
    const seen = await guard(deps, csrf, c, 'read');
    if (seen instanceof Response) return seen;
    const res = streamSSE(c, async (stream) => {
      const queue: LiveDecision[] = [];
      let wake: (() => void) | null = null;
      const live = { open: true };
      // Read through a call: the abort callback changes it between awaits.
      const isOpen = () => live.open;
      const end = () => {
        live.open = false;
        wake?.();
      };
      const unsubscribe = deps.feed.subscribe((d) => {
        // A reader that cannot keep up loses decisions, never warden's memory.
        if (queue.length < 500) queue.push(d);
        wake?.();
      }, end);
      stream.onAbort(end);
      const keepAlive = setInterval(() => wake?.(), 15_000);
      try {
        await stream.writeSSE({ event: 'hello', data: JSON.stringify({ liveRate: LIVE_RATE }) });
        while (isOpen()) {
          const d = queue.shift();
          if (d) {
            await stream.writeSSE({ event: 'decision', data: JSON.stringify(d) });
            continue;
          }
          await new Promise<void>((resolve) => (wake = resolve));
          wake = null;
          if (isOpen() && queue.length === 0) await stream.write(': keep-alive\n\n');
        }
      } finally {
        clearInterval(keepAlive);
        unsubscribe();
      }
    });
    // The connection ends with the feed (shutdown): the browser reconnects, to another replica if need be.
    res.headers.set('connection', 'close');
    // Any nginx in front (a hand-written location, ingress-nginx) passes the feed on unbuffered.
    res.headers.set('x-accel-buffering', 'no');
    return res;
  });
}

import type { Server } from 'node:http';

/**
 * Stops accepting connections and lets requests in flight finish; idle keep-alive connections are closed at once
 * and again as they become idle, and whatever still runs after `graceMs` is cut off.
 */
export function drainServer(server: Server, graceMs: number): Promise<void> {
  return new Promise<void>((resolve) => {
    const idle = setInterval(() => server.closeIdleConnections(), 100);
    const hard = setTimeout(() => server.closeAllConnections(), graceMs);
    server.close(() => {
      clearInterval(idle);
      clearTimeout(hard);
      resolve();
    });
    server.closeIdleConnections();
  });
}

import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ConnectError } from './errors';

/**
 * The loopback redirect of a native app's OAuth flow (RFC 8252 section 7.3): a one-shot HTTP
 * server on 127.0.0.1 and a random port, answering the first request to `path` and handing over
 * its query. Other paths answer 404; the server closes once answered, or on `close()`.
 */
export interface LoopbackOptions {
  /** The redirect path. Default: `/oauth2callback`. */
  path?: string;
}

export interface Loopback {
  /** `http://127.0.0.1:<port><path>`, the `redirect_uri` to send. */
  redirectUri: string;
  /** The query of the redirect, once the browser arrives; rejects with a ConnectError('timeout') after `timeoutMs`. */
  wait(timeoutMs: number, timeoutMessage: string): Promise<URLSearchParams>;
  /** Stops listening and drops connections. Idempotent. */
  close(): Promise<void>;
}

const PAGE = (text: string) => `<!doctype html><html><head><meta charset="utf-8"><title>durasync</title></head><body><p>${text}</p></body></html>`;

export async function startLoopback(options: LoopbackOptions = {}): Promise<Loopback> {
  const path = options.path ?? '/oauth2callback';
  let deliver: (query: URLSearchParams) => void = () => undefined;
  const arrived = new Promise<URLSearchParams>((resolve) => (deliver = resolve));
  let answered = false;
  const server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    if (url.pathname !== path || answered) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('Not Found');
      return;
    }
    answered = true;
    const denied = url.searchParams.has('error');
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', connection: 'close' });
    res.end(PAGE(denied ? 'durasync was not connected. You can close this tab.' : 'durasync is connected. You can close this tab and go back to the terminal.'));
    deliver(url.searchParams);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  let closing: Promise<void> | undefined;
  const close = () =>
    (closing ??= new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    }));
  return {
    redirectUri: `http://127.0.0.1:${port}${path}`,
    close,
    async wait(timeoutMs, timeoutMessage) {
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new ConnectError('timeout', timeoutMessage)), timeoutMs);
      });
      try {
        return await Promise.race([arrived, timeout]);
      } finally {
        clearTimeout(timer);
      }
    },
  };
}

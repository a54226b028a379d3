import type http from 'node:http';
import { timingSafeEqual } from 'node:crypto';
import type { Payload, PayloadCodec } from '@temporalio/common';
import { HttpError, readBody, sendJson, type Routes } from '../lib/http';

/**
 * The remote codec endpoint of the Temporal Web UI and CLI (`--codec-endpoint`), served on the ops
 * port when payload encryption is on: `POST /codec/encode` and `POST /codec/decode` take and answer
 * `{"payloads": [{"metadata": {"k": "<base64>"}, "data": "<base64>"}]}`. Operators read decoded
 * payloads in the UI while the history at rest stays encrypted.
 *
 * Access: with a token (DURASYNC_CODEC_TOKEN), `Authorization: Bearer <token>` is required; without
 * one, only loopback clients are answered. Browsers get CORS headers for the configured UI origins.
 */
export interface CodecEndpointOptions {
  codec: PayloadCodec;
  token?: string;
  corsOrigins: string[];
  /** Largest body read. Default: 8 MB. */
  maxBytes?: number;
}

interface JsonPayload {
  metadata?: Record<string, string>;
  data?: string;
}

const fromJson = (p: JsonPayload): Payload => ({
  metadata: Object.fromEntries(Object.entries(p.metadata ?? {}).map(([k, v]) => [k, Buffer.from(v, 'base64')])),
  data: Buffer.from(p.data ?? '', 'base64'),
});

const toJson = (p: Payload): JsonPayload => ({
  metadata: Object.fromEntries(Object.entries(p.metadata ?? {}).map(([k, v]) => [k, Buffer.from(v).toString('base64')])),
  data: Buffer.from(p.data ?? new Uint8Array()).toString('base64'),
});

function isLoopback(address: string | undefined): boolean {
  return address === '127.0.0.1' || address === '::1' || address === '::ffff:127.0.0.1';
}

function tokenMatches(header: string | undefined, token: string): boolean {
  const given = Buffer.from(/^Bearer (.+)$/.exec(header ?? '')?.[1] ?? '');
  const expected = Buffer.from(token);
  return given.length === expected.length && timingSafeEqual(given, expected);
}

export function codecRoutes(options: CodecEndpointOptions): Routes {
  const cors = (req: http.IncomingMessage, res: http.ServerResponse) => {
    const origin = req.headers.origin;
    if (origin && options.corsOrigins.includes(origin)) {
      res.setHeader('access-control-allow-origin', origin);
      res.setHeader('access-control-allow-credentials', 'true');
      res.setHeader('access-control-allow-methods', 'POST, OPTIONS');
      res.setHeader('access-control-allow-headers', 'content-type, authorization, x-namespace');
      res.setHeader('vary', 'origin');
    }
  };
  const handler = (direction: 'encode' | 'decode') => ({
    OPTIONS: (req: http.IncomingMessage, res: http.ServerResponse) => {
      cors(req, res);
      res.writeHead(204).end();
    },
    POST: async (req: http.IncomingMessage, res: http.ServerResponse) => {
      cors(req, res);
      if (options.token ? !tokenMatches(req.headers.authorization, options.token) : !isLoopback(req.socket.remoteAddress)) {
        req.resume();
        throw new HttpError(401, options.token ? 'authorization: expected Bearer <DURASYNC_CODEC_TOKEN>' : 'codec endpoint answers loopback clients only (set DURASYNC_CODEC_TOKEN to open it)');
      }
      let body: { payloads?: unknown };
      try {
        body = JSON.parse(await readBody(req, options.maxBytes ?? 8 * 1024 * 1024)) as { payloads?: unknown };
      } catch (err) {
        if (err instanceof HttpError) throw err;
        throw new HttpError(400, 'body: expected JSON {"payloads": [...]}');
      }
      if (!Array.isArray(body.payloads)) throw new HttpError(400, 'payloads: expected an array');
      const payloads = (body.payloads as JsonPayload[]).map(fromJson);
      try {
        const out = direction === 'encode' ? await options.codec.encode(payloads) : await options.codec.decode(payloads);
        sendJson(res, 200, { payloads: out.map(toJson) });
      } catch (err) {
        throw new HttpError(400, (err as Error).message);
      }
    },
  });
  return { '/codec/encode': handler('encode'), '/codec/decode': handler('decode') };
}

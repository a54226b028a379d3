import type { IncomingMessage } from 'node:http';
import { badRequest } from './errors';

/** Largest request body accepted, metadata or media. */
export const MAX_BODY_BYTES = 32 * 1024 * 1024;

export interface UploadBody {
  metadata: Record<string, unknown>;
  /** Absent for metadata-only requests. */
  media?: { mimeType: string; content: Buffer };
}

export async function readRaw(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) throw badRequest(`Request body larger than ${MAX_BODY_BYTES} bytes.`);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

export function parseJsonObject(raw: Buffer | string): Record<string, unknown> {
  const text = raw.toString();
  if (text.trim() === '') return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw badRequest('Invalid JSON payload received.');
  }
  if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) throw badRequest('Invalid JSON payload received.');
  return parsed as Record<string, unknown>;
}

const contentType = (req: IncomingMessage) => req.headers['content-type'] ?? 'application/octet-stream';

/**
 * Reads a request to `/upload/drive/v3/files[/:id]`: `uploadType=media` (the body is the content)
 * or `multipart` (multipart/related: a JSON metadata part, then the media part). Resumable uploads
 * are not emulated (400).
 */
export async function readUpload(req: IncomingMessage, uploadType: string | null): Promise<UploadBody> {
  const raw = await readRaw(req);
  if (uploadType === 'media') {
    return { metadata: {}, media: { mimeType: contentType(req).split(';')[0]?.trim() ?? '', content: raw } };
  }
  if (uploadType !== 'multipart') throw badRequest(`Unsupported uploadType: ${uploadType ?? '(none)'}; the emulator takes media and multipart.`, 'uploadType');
  const boundary = /boundary="?([^";]+)"?/i.exec(contentType(req))?.[1];
  if (!contentType(req).startsWith('multipart/') || !boundary) throw badRequest('Multipart upload without a multipart/related boundary.');
  const parts = splitMultipart(raw, boundary);
  const [meta, media] = parts;
  if (!meta || parts.length > 2) throw badRequest('Multipart upload must hold a metadata part and at most one media part.');
  const upload: UploadBody = { metadata: parseJsonObject(meta.body) };
  if (media) upload.media = { mimeType: media.headers['content-type']?.split(';')[0]?.trim() ?? 'application/octet-stream', content: media.body };
  return upload;
}

function splitMultipart(raw: Buffer, boundary: string): Array<{ headers: Record<string, string>; body: Buffer }> {
  const delimiter = Buffer.from(`--${boundary}`);
  const parts: Array<{ headers: Record<string, string>; body: Buffer }> = [];
  let start = raw.indexOf(delimiter);
  if (start < 0) throw badRequest('Multipart body without its boundary.');
  for (;;) {
    start += delimiter.length;
    if (raw.subarray(start, start + 2).toString() === '--') return parts;
    const end = raw.indexOf(delimiter, start);
    if (end < 0) throw badRequest('Multipart body without its closing boundary.');
    let part = raw.subarray(start, end);
    if (part.subarray(0, 2).toString() === '\r\n') part = part.subarray(2);
    if (part.subarray(-2).toString() === '\r\n') part = part.subarray(0, -2);
    const split = part.indexOf('\r\n\r\n');
    const head = split < 0 ? '' : part.subarray(0, split).toString();
    const headers: Record<string, string> = {};
    for (const line of head.split('\r\n')) {
      const colon = line.indexOf(':');
      if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
    }
    parts.push({ headers, body: split < 0 ? part : part.subarray(split + 4) });
    start = end;
  }
}

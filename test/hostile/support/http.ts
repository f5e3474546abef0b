import { request as httpRequest } from 'node:http';

export interface RawResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  /** The parsed body when it is JSON, else undefined. */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- hostile bodies are arbitrary JSON
  json: any;
}

/**
 * A plain node:http request: any method, any headers (fetch refuses some, like Origin) and a body
 * given as raw bytes, so hostile bodies go out exactly as written.
 */
export function rawRequest(
  url: string,
  options: { method?: string; headers?: Record<string, string>; body?: string | Buffer } = {},
): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { method: options.method ?? 'GET', headers: options.headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let json: unknown;
        try {
          json = JSON.parse(text);
        } catch {
          json = undefined;
        }
        resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json });
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    if (options.body !== undefined) req.write(options.body);
    req.end();
  });
}

/** A JSON call with a bearer token. */
export function jsonCall(base: string, method: string, path: string, body?: unknown, token?: string, headers: Record<string, string> = {}): Promise<RawResponse> {
  return rawRequest(`${base}${path}`, {
    method,
    headers: {
      ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
      ...(token ? { authorization: `Bearer ${token}` } : {}),
      ...headers,
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
}

/** The documented error body (api.md "Errors everywhere"). */
export function isCodedError(body: unknown): boolean {
  if (body === null || typeof body !== 'object') return false;
  const { code, message, correlation_id } = body as Record<string, unknown>;
  return typeof code === 'string' && /^[a-z_]+$/.test(code) && typeof message === 'string' && typeof correlation_id === 'string';
}

import type { IncomingHttpHeaders } from 'node:http';

/**
 * Which browser origins may call an app (CORS) or open a sync socket. One rule for both so the
 * HTTP API and the WebSocket cannot drift apart:
 *  - no Origin header: allowed (native clients, curl, server-to-server; they authenticate with tokens);
 *  - same origin (the Origin's host:port is the request's Host): allowed, e.g. the /docs page;
 *  - an origin listed in CORS_ORIGINS (exact match, or `*` for any): allowed;
 *  - anything else: refused with 403 `origin_not_allowed`.
 */
export class OriginPolicy {
  private readonly allowed: ReadonlySet<string>;
  private readonly any: boolean;

  constructor(allowedOrigins: readonly string[]) {
    this.any = allowedOrigins.includes('*');
    this.allowed = new Set(allowedOrigins.filter((origin) => origin !== '*').map(normalizeOrigin));
  }

  /** Parses the comma-separated CORS_ORIGINS value (unset or empty: same-origin only). */
  static fromList(value: string | undefined): OriginPolicy {
    return new OriginPolicy(
      (value ?? '')
        .split(',')
        .map((origin) => origin.trim())
        .filter(Boolean),
    );
  }

  allows(headers: IncomingHttpHeaders): boolean {
    const origin = headers.origin;
    if (origin === undefined) return true;
    if (this.any) return true;
    const normalized = normalizeOrigin(origin);
    if (this.allowed.has(normalized)) return true;
    return sameOrigin(normalized, headers.host);
  }
}

/** `Origin` is scheme://host[:port]; browsers send it lower-case, config may not be. */
function normalizeOrigin(origin: string): string {
  return origin.trim().replace(/\/+$/, '').toLowerCase();
}

function sameOrigin(origin: string, host: string | undefined): boolean {
  if (!host) return false;
  try {
    // The scheme is not compared: behind a TLS terminator the app sees http while the page is https.
    return new URL(origin).host === host.toLowerCase();
  } catch {
    return false; // "null" (sandboxed frames, file://) and garbage are not the same origin
  }
}

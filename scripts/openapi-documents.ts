import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startSystem } from '../apps/embedded/src/embedded';

/** The apps whose HTTP API has a committed OpenAPI document, and where it is committed. */
export const OPENAPI_APPS = ['control', 'runtime', 'gateway'] as const;
export type OpenApiApp = (typeof OPENAPI_APPS)[number];

export const openApiPath = (app: OpenApiApp) => join(__dirname, '..', 'docs', 'openapi', `${app}.json`);

/** A document as committed: stable key order from the app, two-space JSON, a final newline. */
export const serializeOpenApi = (document: unknown) => `${JSON.stringify(document, null, 2)}\n`;

/**
 * The documents the apps serve at /docs-json, from a system started in memory (PGlite, no
 * projectors, ephemeral keys and ports): the documents depend on the code only, never on the
 * environment, so generation and the drift check need no database of their own.
 */
export async function liveOpenApiDocuments(): Promise<Record<OpenApiApp, Record<string, unknown>>> {
  const system = await startSystem({
    DATA_DIR: 'memory',
    CONTROL_PORT: '0',
    RUNTIME_PORT: '0',
    KHALA_PORT: '0',
    RUNTIME_PROJECTORS: 'off',
    LOG_LEVEL: 'silent',
  });
  try {
    const documents = {} as Record<OpenApiApp, Record<string, unknown>>;
    for (const app of OPENAPI_APPS) {
      const response = await fetch(`${system.urls[app]}/docs-json`);
      if (!response.ok) throw new Error(`${app} /docs-json answered ${response.status}`);
      documents[app] = (await response.json()) as Record<string, unknown>;
    }
    return documents;
  } finally {
    await system.stop();
  }
}

export function committedOpenApi(app: OpenApiApp): string | undefined {
  try {
    return readFileSync(openApiPath(app), 'utf8');
  } catch {
    return undefined;
  }
}

export function writeOpenApi(app: OpenApiApp, document: unknown): void {
  writeFileSync(openApiPath(app), serializeOpenApi(document));
}

import { committedOpenApi, liveOpenApiDocuments, OPENAPI_APPS, OpenApiApp, serializeOpenApi } from '../../scripts/openapi-documents';

interface Operation {
  summary?: string;
  parameters?: { name: string; in: string }[];
  requestBody?: unknown;
  responses: Record<string, { content?: Record<string, { schema?: Schema }> }>;
}
interface Schema {
  $ref?: string;
  allOf?: Schema[];
  properties?: Record<string, Schema & { enum?: string[] }>;
}
type OpenApiDocument = { paths: Record<string, Record<string, Operation>> };

const ERROR_BODY_REF = '#/components/schemas/ErrorResponse';

/** Every (app, METHOD path, operation) the apps serve. */
function operationsOf(documents: Record<OpenApiApp, Record<string, unknown>>) {
  return OPENAPI_APPS.flatMap((app) =>
    Object.entries((documents[app] as unknown as OpenApiDocument).paths).flatMap(([path, methods]) =>
      Object.entries(methods).map(([method, operation]) => ({ app, name: `${app} ${method.toUpperCase()} ${path}`, method, operation })),
    ),
  );
}

/** What a contract-complete operation lacks (empty when it lacks nothing). */
function gapsOf(method: string, operation: Operation): string[] {
  const gaps: string[] = [];
  if (!operation.summary?.trim()) gaps.push('a summary');
  const statuses = Object.keys(operation.responses);
  const success = statuses.filter((status) => status.startsWith('2'));
  if (!success.length) gaps.push('a 2xx response');
  for (const status of success) {
    if (!operation.responses[status].content?.['application/json']?.schema) gaps.push(`a schema for ${status}`);
  }
  const errors = statuses.filter((status) => /^[45]/.test(status));
  if (!errors.length) gaps.push('its error responses');
  for (const status of errors) {
    const schema = operation.responses[status].content?.['application/json']?.schema;
    const parts = schema?.allOf ?? [];
    const codes = parts.find((part) => part.properties?.code)?.properties?.code.enum ?? [];
    if (!parts.some((part) => part.$ref === ERROR_BODY_REF)) gaps.push(`the error body for ${status}`);
    if (!codes.length) gaps.push(`the codes of ${status}`);
  }
  if (['post', 'put', 'patch'].includes(method) && !operation.requestBody) gaps.push('a request body');
  const idempotencyHeaders = (operation.parameters ?? []).filter((parameter) => parameter.in === 'header' && parameter.name.toLowerCase() === 'idempotency-key');
  if (idempotencyHeaders.length > 1) gaps.push('a single Idempotency-Key header');
  return gaps;
}

describe('OpenAPI documents (docs/openapi/<app>.json)', () => {
  let documents: Record<OpenApiApp, Record<string, unknown>>;
  beforeAll(async () => {
    documents = await liveOpenApiDocuments();
  });

  it('every operation has a summary, a request body if it takes one, a 2xx schema and its error statuses with the shared body and codes', () => {
    const operations = operationsOf(documents);
    expect(operations.length).toBeGreaterThanOrEqual(24);
    const incomplete = operations.map(({ name, method, operation }) => ({ name, gaps: gapsOf(method, operation) })).filter(({ gaps }) => gaps.length);
    expect(incomplete).toEqual([]);
  });

  it('runtime commands declare Idempotency-Key once, and its conflicts', () => {
    const commands = operationsOf(documents).filter(({ app, method }) => app === 'runtime' && method === 'post');
    expect(commands.length).toBe(7);
    for (const { operation } of commands) {
      expect((operation.parameters ?? []).filter((parameter) => parameter.name === 'Idempotency-Key')).toHaveLength(1);
      expect(JSON.stringify(operation.responses['409'])).toContain('idempotency_mismatch');
    }
  });

  it('the gap check itself notices what is missing', () => {
    expect(gapsOf('post', { responses: { '201': {} } })).toEqual(['a summary', 'a schema for 201', 'its error responses', 'a request body']);
  });

  it.each(OPENAPI_APPS)('the committed %s document is the one the app serves (npm run openapi:gen)', (app) => {
    expect(committedOpenApi(app)).toBe(serializeOpenApi(documents[app]));
  });
});

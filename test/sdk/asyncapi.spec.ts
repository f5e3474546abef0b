import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Parser } from '@asyncapi/parser';

const documentPath = join(__dirname, '../../docs/protocol/asyncapi.yaml');

/**
 * docs/protocol/asyncapi.yaml is a valid AsyncAPI 3 document (no error diagnostics from the
 * official parser) and names every frame event of sync:v1 (docs/protocol/README.md).
 */
describe('docs/protocol/asyncapi.yaml', () => {
  it('parses as AsyncAPI 3.0 with no errors and describes every sync:v1 event', async () => {
    const { document, diagnostics } = await new Parser().parse(readFileSync(documentPath, 'utf8'), { source: documentPath });
    // Severity 0 is an error; warnings and hints do not make a document invalid.
    expect(diagnostics.filter((diagnostic) => diagnostic.severity === 0).map((diagnostic) => `${diagnostic.path.join('.')}: ${diagnostic.message}`)).toEqual([]);
    expect(document?.version()).toBe('3.0.0');
    const events = document!
      .messages()
      .all()
      .map((message) => message.name());
    expect(new Set(events)).toEqual(
      new Set(['phx_join', 'phx_leave', 'sync:subscribe', 'sync:unsubscribe', 'sync:heartbeat request', 'heartbeat', 'phx_reply', 'sync:update_batch', 'sync:error', 'sync:heartbeat', 'sync:frame']),
    );
  });
});

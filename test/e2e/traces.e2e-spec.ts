import { createServer, IncomingMessage, Server, ServerResponse } from 'node:http';
import { AddressInfo } from 'node:net';
import { randomBytes } from 'node:crypto';
import { flushTraces } from '@khala/platform/tracing/tracing';
import { RunningSystem } from '../../apps/embedded/src/embedded';
import { RawPhoenixClient } from '../support/phoenix-client';
import { accessTokenFor, freshIdentity, startTestSystem, syncTokenFor } from '../support/system';

/** A span as the OTLP/HTTP JSON exporter posts it (ids normalised to hex). */
interface ReceivedSpan {
  traceId: string;
  spanId: string;
  parentSpanId: string;
  name: string;
  startNs: bigint;
  endNs: bigint;
  links: { traceId: string; spanId: string }[];
  attributes: Record<string, unknown>;
  service: string;
}

/** OTLP JSON carries ids as hex; base64 is accepted too, in case an exporter sends the protobuf JSON mapping. */
const hexId = (id: unknown): string => {
  const text = typeof id === 'string' ? id : '';
  return /^[0-9a-f]*$/i.test(text) ? text.toLowerCase() : Buffer.from(text, 'base64').toString('hex');
};

type OtlpValue = { stringValue?: string; intValue?: string | number; boolValue?: boolean; arrayValue?: { values?: OtlpValue[] } };
const attributeValue = (value: OtlpValue): unknown =>
  value.stringValue ?? (value.intValue !== undefined ? Number(value.intValue) : value.boolValue ?? value.arrayValue?.values?.map(attributeValue));
const attributes = (list: { key: string; value: OtlpValue }[] = []) => Object.fromEntries(list.map(({ key, value }) => [key, attributeValue(value)]));

/** A local OTLP/HTTP receiver: POST /v1/traces with the exporter's JSON body. */
class OtlpReceiver {
  readonly spans: ReceivedSpan[] = [];
  readonly paths: string[] = [];
  private readonly server: Server = createServer((request, response) => void this.receive(request, response));

  async listen(): Promise<string> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.server.close(() => resolve()));
  }

  private async receive(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of request) chunks.push(chunk as Buffer);
    this.paths.push(`${request.method} ${request.url} ${request.headers['content-type']}`);
    const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as {
      resourceSpans?: {
        resource?: { attributes?: { key: string; value: OtlpValue }[] };
        scopeSpans?: { spans?: Record<string, unknown>[] }[];
      }[];
    };
    for (const resourceSpans of body.resourceSpans ?? []) {
      const service = String(attributes(resourceSpans.resource?.attributes)['service.name']);
      for (const scope of resourceSpans.scopeSpans ?? [])
        for (const span of scope.spans ?? [])
          this.spans.push({
            traceId: hexId(span.traceId),
            spanId: hexId(span.spanId),
            parentSpanId: hexId(span.parentSpanId ?? ''),
            name: String(span.name),
            startNs: BigInt(String(span.startTimeUnixNano)),
            endNs: BigInt(String(span.endTimeUnixNano)),
            links: ((span.links as { traceId: string; spanId: string }[] | undefined) ?? []).map((link) => ({ traceId: hexId(link.traceId), spanId: hexId(link.spanId) })),
            attributes: attributes(span.attributes as { key: string; value: OtlpValue }[]),
            service,
          });
    }
    response.writeHead(200, { 'content-type': 'application/json' }).end('{}');
  }
}

const ms = (span: ReceivedSpan) => `${(Number(span.endNs - span.startNs) / 1e6).toFixed(2)} ms`;
const linksTo = (span: ReceivedSpan, target: ReceivedSpan) =>
  span.links.some((link) => link.traceId === target.traceId && link.spanId === target.spanId);

/**
 * One command's trace end to end, exported over OTLP/HTTP to a receiver in this test: the HTTP
 * server span continues the caller's traceparent, the command handler and the append are its
 * children, and the projector batch (with its journal write) and the gateway's delivery to a real
 * WebSocket subscriber are linked to the append through the traceparent kept in the event's
 * metadata and in the journal row.
 */
describe('traces: HTTP command → handler → append → projector batch → journal write → delivery', () => {
  const receiver = new OtlpReceiver();
  let system: RunningSystem;
  beforeAll(async () => {
    system = await startTestSystem({ OTEL_EXPORTER_OTLP_ENDPOINT: await receiver.listen() });
  });
  afterAll(async () => {
    await system?.stop();
    await receiver.close();
  });

  it("exports one command's spans as one chain, from the caller's traceparent to the subscriber's delivery", async () => {
    // A first command in another org warms the path, so the printed timings are not a cold start's.
    const warmUp = await accessTokenFor(system, freshIdentity());
    await fetch(`${system.urls.runtime}/api/runtime/runs`, {
      method: 'POST',
      headers: { authorization: `Bearer ${warmUp}`, 'content-type': 'application/json' },
      body: JSON.stringify({ thread_id: 'warm-up' }),
    });
    const identity = freshIdentity();
    const token = await syncTokenFor(system, identity, ['runtime.run_summaries']);
    const client = await RawPhoenixClient.connect(`${system.urls.gateway.replace('http', 'ws')}/sync/socket/websocket?token=${token}&vsn=2.0.0`);
    let runId: string;
    const callerTraceId = randomBytes(16).toString('hex');
    const callerSpanId = randomBytes(8).toString('hex');
    try {
      expect(await client.join()).toMatchObject({ status: 'ok' });
      // A fresh org's summaries topic is empty: the subscriber is live before the command.
      const subscribed = await client.request('sync:v1', 'sync:subscribe', { topics: ['runtime.run_summaries'], resume_after: { 'runtime.run_summaries': 0 } });
      expect(subscribed[4]).toMatchObject({ status: 'ok' });

      const created = await fetch(`${system.urls.runtime}/api/runtime/runs`, {
        method: 'POST',
        headers: {
          authorization: `Bearer ${await accessTokenFor(system, identity)}`,
          'content-type': 'application/json',
          traceparent: `00-${callerTraceId}-${callerSpanId}-01`,
        },
        body: JSON.stringify({ thread_id: 'traced' }),
      });
      expect(created.status).toBe(201);
      runId = ((await created.json()) as { run_id: string }).run_id;
      await client.waitFor(
        (frame) => frame[3] === 'sync:update_batch' && (frame[4].updates as { doc_key: string }[]).some((update) => update.doc_key === `run_summary:${runId}`),
      );
    } finally {
      await client.close();
    }

    const find = (predicate: (span: ReceivedSpan) => boolean) => receiver.spans.find(predicate);
    const chain = async () => {
      await flushTraces();
      const server = find((span) => span.name === 'POST /api/runtime/runs' && span.traceId === callerTraceId);
      const handler = server && find((span) => span.name === 'command CreateRun' && span.parentSpanId === server.spanId);
      const append = handler && find((span) => span.name === 'eventstore append' && span.parentSpanId === handler.spanId);
      const batch = append && find((span) => span.name === 'projection batch run_summaries' && linksTo(span, append));
      const journal = batch && find((span) => span.name === 'journal write' && span.parentSpanId === batch.spanId);
      const delivery = append && find((span) => span.name === 'sync deliver' && linksTo(span, append) && span.attributes['khala.org_id'] === identity.orgId);
      return server && handler && append && batch && journal && delivery ? { server, handler, append, batch, journal, delivery } : undefined;
    };
    let found = await chain();
    for (let waited = 0; !found && waited < 100; waited++) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      found = await chain();
    }
    if (!found) throw new Error(`incomplete chain; received: ${receiver.spans.map((span) => span.name).join(', ')}`);
    const { server, handler, append, batch, journal, delivery } = found;

    expect(receiver.paths[0]).toMatch(/^POST \/v1\/traces application\/json/);
    // The caller's trace is continued, not restarted.
    expect(server.parentSpanId).toBe(callerSpanId);
    expect([handler.traceId, append.traceId]).toEqual([callerTraceId, callerTraceId]);
    expect(server.attributes).toMatchObject({ 'http.request.method': 'POST', 'http.route': '/api/runtime/runs', 'http.response.status_code': 201 });
    expect(append.attributes).toMatchObject({ 'khala.stream': `run-${runId!}`, 'khala.events': 1, 'khala.event_types': ['RunCreated'] });
    // The batch and the delivery are traces of their own, linked to the append.
    expect(batch.traceId).not.toBe(callerTraceId);
    expect(batch.parentSpanId).toBe('');
    expect(journal.attributes).toMatchObject({ 'khala.journal.topics': ['runtime.run_summaries'] });
    expect(delivery.traceId).not.toBe(callerTraceId);
    expect(delivery.attributes).toMatchObject({ 'khala.topic': 'runtime.run_summaries', 'khala.rows': 1 });

    const start = server.startNs;
    const at = (span: ReceivedSpan) => `+${(Number(span.startNs - start) / 1e6).toFixed(2)} ms`;
    console.log(
      [
        `one command's trace (caller trace ${callerTraceId}):`,
        `  ${server.name}  [server, parent = caller's span ${callerSpanId}]  ${at(server)}  ${ms(server)}`,
        `    ${handler.name}  [child]  ${at(handler)}  ${ms(handler)}`,
        `      ${append.name}  [child, span ${append.spanId}]  ${at(append)}  ${ms(append)}`,
        `  ${batch.name}  [trace ${batch.traceId}, link → append]  ${at(batch)}  ${ms(batch)}`,
        `    ${journal.name}  [child, ${String(journal.attributes['khala.journal.rows'])} rows]  ${at(journal)}  ${ms(journal)}`,
        `  ${delivery.name}  [trace ${delivery.traceId}, link → append, ${delivery.attributes['khala.topic'] as string}]  ${at(delivery)}  ${ms(delivery)}`,
        `  command to delivery: ${(Number(delivery.endNs - server.startNs) / 1e6).toFixed(2)} ms`,
      ].join('\n'),
    );
  });
});

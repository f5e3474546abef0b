import { Writable } from 'node:stream';
import { Controller, Get, HttpCode, INestApplication, Module, Post } from '@nestjs/common';
import { APP_INTERCEPTOR, NestFactory } from '@nestjs/core';
import { ExpressAdapter } from '@nestjs/platform-express';
import { FastifyAdapter } from '@nestjs/platform-fastify';
import { SpanStatusCode } from '@opentelemetry/api';
import { InMemorySpanExporter, ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { createLogger } from '@khala/platform';
import { HttpServerSpanInterceptor } from '@khala/platform/tracing/http-server-span.interceptor';
import { TracedCommand } from '@khala/platform/tracing/traced-command';
import { formatTraceparent, linksFromTraceparents, parseTraceparent } from '@khala/platform/tracing/traceparent';
import { flushTraces, inSpan, startTracing, stopTracing, tracingEnabled } from '@khala/platform/tracing/tracing';

const TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736';
const SPAN_ID = '00f067aa0ba902b7';

function logLines(): { lines: Record<string, unknown>[]; logger: ReturnType<typeof createLogger> } {
  const lines: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>);
      done();
    },
  });
  return { lines, logger: createLogger('test', 'info', sink) };
}

class Probe {
  constructor(readonly fail: boolean) {}
}
class ProbeHandler {
  @TracedCommand()
  async execute(command: Probe): Promise<string> {
    if (command.fail) throw new Error('refused');
    return 'done';
  }
}

describe('traceparent values', () => {
  it('formats a span context and parses it back', () => {
    const text = `00-${TRACE_ID}-${SPAN_ID}-01`;
    const parsed = parseTraceparent(text);
    expect(parsed).toEqual({ traceId: TRACE_ID, spanId: SPAN_ID, traceFlags: 1, isRemote: true });
    expect(formatTraceparent(parsed!)).toBe(text);
    expect(formatTraceparent({ traceId: TRACE_ID, spanId: SPAN_ID, traceFlags: 0 })).toBe(`00-${TRACE_ID}-${SPAN_ID}-00`);
  });

  it('refuses what is not a valid version-00 traceparent', () => {
    for (const value of [
      undefined,
      42,
      '',
      `01-${TRACE_ID}-${SPAN_ID}-01`,
      `00-${'0'.repeat(32)}-${SPAN_ID}-01`,
      `00-${TRACE_ID}-${'0'.repeat(16)}-01`,
      `00-${TRACE_ID.toUpperCase()}-${SPAN_ID}-01`,
      `00-${TRACE_ID}-${SPAN_ID}-01-extra`,
    ])
      expect(parseTraceparent(value)).toBeUndefined();
  });

  it('makes one link per distinct trace context, skipping absent and malformed ones, up to a bound', () => {
    const a = `00-${TRACE_ID}-${SPAN_ID}-01`;
    const b = `00-${TRACE_ID}-${'1'.repeat(16)}-01`;
    expect(linksFromTraceparents([a, null, a, 'garbage', b, undefined, b]).map((link) => link.context.spanId)).toEqual([SPAN_ID, '1'.repeat(16)]);
    const many = Array.from({ length: 10 }, (_, index) => `00-${TRACE_ID}-${(index + 1).toString(16).padStart(16, '0')}-01`);
    expect(linksFromTraceparents(many, 4)).toHaveLength(4);
  });
});

describe('tracing off (no OTEL_EXPORTER_OTLP_ENDPOINT)', () => {
  it('runs spans and traced handlers as plain calls, and log lines carry no trace ids', async () => {
    expect(tracingEnabled()).toBe(false);
    await expect(inSpan('unused', {}, async (span) => span)).resolves.toBeUndefined();
    await expect(new ProbeHandler().execute(new Probe(false))).resolves.toBe('done');
    const { lines, logger } = logLines();
    await inSpan('unused', {}, async () => logger.info('inside'));
    expect(lines[0]).not.toHaveProperty('trace_id');
  });
});

describe('tracing on', () => {
  const exporter = new InMemorySpanExporter();
  beforeAll(() => startTracing({ endpoint: 'http://127.0.0.1:9', serviceName: 'khala-test', exporter }));
  afterAll(() => stopTracing());
  beforeEach(() => exporter.reset());

  const finished = async (): Promise<ReadableSpan[]> => {
    await flushTraces();
    return exporter.getFinishedSpans();
  };

  it('puts trace_id and span_id of the active span on log lines, and nothing outside a span', async () => {
    const { lines, logger } = logLines();
    let ids: { traceId: string; spanId: string } | undefined;
    await inSpan('logging', {}, async (span) => {
      ids = span!.spanContext();
      logger.info('inside');
    });
    logger.info('outside');
    expect(lines[0]).toMatchObject({ msg: 'inside', trace_id: ids!.traceId, span_id: ids!.spanId });
    expect(lines[1]).not.toHaveProperty('trace_id');
  });

  it('makes a command handler span a child of the active span, and records a refusal as an error', async () => {
    await inSpan('request', {}, () => new ProbeHandler().execute(new Probe(false)));
    await expect(inSpan('request', {}, () => new ProbeHandler().execute(new Probe(true)))).rejects.toThrow('refused');
    const spans = await finished();
    const [ok, failed] = spans.filter((span) => span.name === 'command Probe');
    const requests = spans.filter((span) => span.name === 'request');
    expect(ok.parentSpanContext?.spanId).toBe(requests[0].spanContext().spanId);
    expect(ok.attributes['khala.command']).toBe('Probe');
    expect(ok.status.code).toBe(SpanStatusCode.UNSET);
    expect(failed.status).toMatchObject({ code: SpanStatusCode.ERROR, message: 'refused' });
    expect(failed.events.map((event) => event.name)).toContain('exception');
  });

  @Controller('api/probe')
  class ProbeController {
    @Post(':id/things')
    @HttpCode(202)
    accept(): { traced: boolean } {
      return { traced: true };
    }

    @Get('broken')
    broken(): never {
      throw new Error('boom');
    }
  }
  @Module({ controllers: [ProbeController], providers: [{ provide: APP_INTERCEPTOR, useClass: HttpServerSpanInterceptor }] })
  class ProbeModule {}

  for (const [adapterName, adapter] of [
    ['express', () => new ExpressAdapter()],
    ['fastify', () => new FastifyAdapter()],
  ] as const) {
    it(`makes the HTTP server span under ${adapterName}: continues the caller's traceparent, with route and status`, async () => {
      const app: INestApplication = await NestFactory.create(ProbeModule, adapter(), { logger: false });
      await app.listen(0, '127.0.0.1');
      try {
        const base = (await app.getUrl()).replace('[::1]', '127.0.0.1');
        const accepted = await fetch(`${base}/api/probe/abc/things?token=secret`, {
          method: 'POST',
          headers: { traceparent: `00-${TRACE_ID}-${SPAN_ID}-01` },
        });
        expect(accepted.status).toBe(202);
        expect((await fetch(`${base}/api/probe/broken`)).status).toBe(500);
        const spans = await finished();
        const server = spans.find((span) => span.name === 'POST /api/probe/:id/things')!;
        expect(server.spanContext().traceId).toBe(TRACE_ID);
        expect(server.parentSpanContext?.spanId).toBe(SPAN_ID);
        expect(server.attributes).toEqual({
          'http.request.method': 'POST',
          'http.route': '/api/probe/:id/things',
          'url.path': '/api/probe/abc/things',
          'http.response.status_code': 202,
        });
        const broken = spans.find((span) => span.name === 'GET /api/probe/broken')!;
        expect(broken.parentSpanContext).toBeUndefined();
        expect(broken.attributes['http.response.status_code']).toBe(500);
        expect(broken.status.code).toBe(SpanStatusCode.ERROR);
      } finally {
        await app.close();
      }
    });
  }
});

import { Body, Controller, Get, Headers, HttpCode, Param, Post, Query, Req, UseGuards } from '@nestjs/common';
import { CommandBus } from '@nestjs/cqrs';
import { ApiBearerAuth, ApiHeader, ApiTags } from '@nestjs/swagger';
import type { Request } from 'express';
import { AccessTokenGuard, CurrentPrincipal, Principal, RequireScope } from '@khala/auth';
import { currentCorrelationId } from '@khala/platform';
import { RuntimeError } from '../../runtime.error';
import { RESOURCE_ID_PATTERN } from '../../shared/command-key';
import { EmptyBodyPipe } from '../../shared/empty-body.pipe';
import { IdempotencyService } from '../../shared/idempotency/idempotency.service';
import { DEFAULT_PAGE_SIZE, ListQueryDto } from '../../shared/list-query.dto';
import { CodexWorkerCommandResult, RecordCodexWorkerEvent } from '../commands/record-codex-worker-event/record-codex-worker-event.command';
import { RecordCodexWorkerEventDto } from '../commands/record-codex-worker-event/record-codex-worker-event.dto';
import { RecordCodexWorkerHeartbeat } from '../commands/record-codex-worker-heartbeat/record-codex-worker-heartbeat.command';
import { StartCodexWorker } from '../commands/start-codex-worker/start-codex-worker.command';
import { StartCodexWorkerDto } from '../commands/start-codex-worker/start-codex-worker.dto';
import { StopCodexWorker } from '../commands/stop-codex-worker/stop-codex-worker.command';
import { StopCodexWorkerDto } from '../commands/stop-codex-worker/stop-codex-worker.dto';
import { heartbeatFreshness } from '../domain/codex-worker.decider';
import { CodexWorkerSnapshotsReader } from '../queries/codex-worker-snapshots.reader';
import { CodexWorkerSummariesRepository } from '../queries/codex-worker-summaries.repository';

const IDEMPOTENCY_HEADER = { name: 'Idempotency-Key', required: false };

function workerIdParam(workerId: string): string {
  if (!RESOURCE_ID_PATTERN.test(workerId)) throw new RuntimeError('worker_not_found', 'worker not found');
  return workerId;
}

const correlationId = () => currentCorrelationId() ?? 'none';
const reply = (result: CodexWorkerCommandResult) => ({ worker_id: result.workerId, status: result.status, revision: Number(result.revision) });

@ApiTags('codex workers')
@ApiBearerAuth()
@UseGuards(AccessTokenGuard)
@Controller('api/runtime/codex/workers')
export class CodexWorkersController {
  constructor(
    private readonly commands: CommandBus,
    private readonly snapshots: CodexWorkerSnapshotsReader,
    private readonly summaries: CodexWorkerSummariesRepository,
    private readonly idempotency: IdempotencyService,
  ) {}

  @Post()
  @RequireScope('runtime:write')
  @HttpCode(201)
  @ApiHeader(IDEMPOTENCY_HEADER)
  start(
    @CurrentPrincipal() principal: Principal,
    @Body() body: StartCodexWorkerDto,
    @Req() request: Request,
    @Headers('idempotency-key') idempotencyKey?: string,
  ) {
    return this.idempotency.execute(
      { orgId: principal.orgId, key: idempotencyKey, method: request.method, path: request.path, body, status: 201 },
      async () => {
        const result = await this.commands.execute(
          new StartCodexWorker(
            principal.orgId,
            principal.userId,
            body.worker_id,
            body.workspace_ref,
            body.adapter,
            idempotencyKey,
            correlationId(),
          ),
        );
        return { worker_id: result.workerId, status: 'starting' };
      },
    );
  }

  @Post(':worker_id/events')
  @RequireScope('runtime:write')
  @HttpCode(202)
  @ApiHeader(IDEMPOTENCY_HEADER)
  recordEvent(
    @CurrentPrincipal() principal: Principal,
    @Param('worker_id') workerId: string,
    @Body() body: RecordCodexWorkerEventDto,
    @Req() request: Request,
    @Headers('idempotency-key') idempotencyKey?: string,
  ) {
    workerIdParam(workerId);
    return this.idempotency.execute(
      { orgId: principal.orgId, key: idempotencyKey, method: request.method, path: request.path, body, status: 202 },
      async () =>
        reply(
          await this.commands.execute(
            new RecordCodexWorkerEvent(
              principal.orgId,
              principal.userId,
              workerId,
              body.event.event_type,
              body.event.payload,
              idempotencyKey,
              correlationId(),
            ),
          ),
        ),
    );
  }

  @Post(':worker_id/heartbeat')
  @RequireScope('runtime:write')
  @HttpCode(202)
  @ApiHeader(IDEMPOTENCY_HEADER)
  heartbeat(
    @CurrentPrincipal() principal: Principal,
    @Param('worker_id') workerId: string,
    @Body(EmptyBodyPipe) body: Record<string, never>,
    @Req() request: Request,
    @Headers('idempotency-key') idempotencyKey?: string,
  ) {
    workerIdParam(workerId);
    return this.idempotency.execute(
      { orgId: principal.orgId, key: idempotencyKey, method: request.method, path: request.path, body, status: 202 },
      async () =>
        reply(await this.commands.execute(new RecordCodexWorkerHeartbeat(principal.orgId, principal.userId, workerId, idempotencyKey, correlationId()))),
    );
  }

  @Post(':worker_id/stop')
  @RequireScope('runtime:write')
  @HttpCode(202)
  @ApiHeader(IDEMPOTENCY_HEADER)
  stop(
    @CurrentPrincipal() principal: Principal,
    @Param('worker_id') workerId: string,
    @Body() body: StopCodexWorkerDto,
    @Req() request: Request,
    @Headers('idempotency-key') idempotencyKey?: string,
  ) {
    workerIdParam(workerId);
    return this.idempotency.execute(
      { orgId: principal.orgId, key: idempotencyKey, method: request.method, path: request.path, body, status: 202 },
      async () =>
        reply(await this.commands.execute(new StopCodexWorker(principal.orgId, principal.userId, workerId, body.reason, idempotencyKey, correlationId()))),
    );
  }

  @Get()
  @RequireScope('runtime:read')
  async list(@CurrentPrincipal() principal: Principal, @Query() query: ListQueryDto) {
    const page = await this.summaries.list(principal.orgId, query.limit ?? DEFAULT_PAGE_SIZE, query.after);
    if (!page) throw new RuntimeError('invalid_cursor', 'after does not name one of your workers');
    const now = new Date();
    return {
      workers: page.workers.map((row) => ({
        ...row.document,
        heartbeat_freshness: heartbeatFreshness(row.document.last_heartbeat_at ?? undefined, now),
        doc_version: row.doc_version,
        watermark: row.watermark,
      })),
      next_after: page.nextAfter,
    };
  }

  @Get(':worker_id/snapshot')
  @RequireScope('runtime:read')
  async snapshot(@CurrentPrincipal() principal: Principal, @Param('worker_id') workerId: string) {
    const summary = await this.snapshots.snapshot(principal.orgId, workerIdParam(workerId));
    if (!summary) throw new RuntimeError('worker_not_found', `worker ${workerId} not found`);
    return summary;
  }
}

import { Body, Controller, Get, Inject, Param, Post, Query, UseGuards } from '@nestjs/common';
import { CommandBus } from '@nestjs/cqrs';
import { ApiBearerAuth, ApiBody, ApiOkResponse, ApiOperation, ApiResponse, ApiTags } from '@nestjs/swagger';
import { AccessTokenGuard, CurrentPrincipal, Principal, RequireScope } from '@khala/auth';
import { EVENT_STORE, EventStore } from '@khala/eventstore';
import { ApiErrors, currentCorrelationId } from '@khala/platform';
import { RuntimeError } from '../../runtime.error';
import { EmptyBodyPipe } from '../../shared/empty-body.pipe';
import { IdempotencyService } from '../../shared/idempotency/idempotency.service';
import { Idempotent, Keyed, KeyedRequest } from '../../shared/idempotency/idempotent.decorator';
import { DEFAULT_PAGE_SIZE, ListQueryDto } from '../../shared/list-query.dto';
import { MinRevisionQueryDto } from '../../shared/read-your-writes/min-revision-query.dto';
import { ReadModelWait } from '../../shared/read-your-writes/read-model-wait';
import { ResourceIdPipe } from '../../shared/resource-id.pipe';
import { CodexWorkerCommandResult, RecordCodexWorkerEvent } from '../commands/record-codex-worker-event/record-codex-worker-event.command';
import { RecordCodexWorkerEventDto } from '../commands/record-codex-worker-event/record-codex-worker-event.dto';
import { RecordCodexWorkerHeartbeat } from '../commands/record-codex-worker-heartbeat/record-codex-worker-heartbeat.command';
import { StartCodexWorker } from '../commands/start-codex-worker/start-codex-worker.command';
import { StartCodexWorkerDto } from '../commands/start-codex-worker/start-codex-worker.dto';
import { StopCodexWorker } from '../commands/stop-codex-worker/stop-codex-worker.command';
import { StopCodexWorkerDto } from '../commands/stop-codex-worker/stop-codex-worker.dto';
import { heartbeatFreshness } from '../domain/codex-worker.decider';
import { codexWorkerBelongsTo } from '../codex-worker-streams';
import { CodexWorkerSnapshotsReader } from '../queries/codex-worker-snapshots.reader';
import { READ_YOUR_WRITES, RUNTIME_COMMAND, RUNTIME_READ } from '../../shared/http/runtime-errors.openapi';
import { CodexWorkerAccepted, CodexWorkerSnapshot, CodexWorkerSummaryAtRevision, CodexWorkerSummaryPage } from './codex-workers.responses';
import { CodexWorkerSummariesRepository, CodexWorkerSummaryRow } from '../queries/codex-worker-summaries.repository';

/** A malformed id names no worker: 404, like any worker the caller cannot see. */
const WorkerId = new ResourceIdPipe(() => new RuntimeError('worker_not_found', 'worker not found'));

const correlationId = () => currentCorrelationId() ?? 'none';
const reply = (result: CodexWorkerCommandResult) => ({ worker_id: result.workerId, status: result.status, revision: Number(result.revision) });

/** A read-model row as the list and the single read serve it; freshness depends on the clock. */
const summaryOf = (row: CodexWorkerSummaryRow, now: Date) => ({
  ...row.document,
  heartbeat_freshness: heartbeatFreshness(row.document.last_heartbeat_at ?? undefined, now),
  doc_version: row.doc_version,
  watermark: row.watermark,
});

@ApiTags('codex workers')
@ApiBearerAuth()
@UseGuards(AccessTokenGuard)
@Controller('api/runtime/codex/workers')
export class CodexWorkersController {
  constructor(
    private readonly commands: CommandBus,
    private readonly snapshots: CodexWorkerSnapshotsReader,
    private readonly summaries: CodexWorkerSummariesRepository,
    readonly idempotency: IdempotencyService,
    private readonly readModel: ReadModelWait,
    @Inject(EVENT_STORE) private readonly store: EventStore,
  ) {}

  @Post()
  @RequireScope('runtime:write')
  @ApiOperation({ summary: 'start a codex worker in the caller\'s org (status starting)' })
  @ApiResponse({ status: 201, type: CodexWorkerAccepted })
  @ApiErrors(RUNTIME_COMMAND, { 409: ['worker_exists'] })
  @Idempotent(201)
  async start(@CurrentPrincipal() principal: Principal, @Body() body: StartCodexWorkerDto, @Keyed() request: KeyedRequest) {
    const result = await this.commands.execute(
      new StartCodexWorker(
        principal.orgId,
        principal.userId,
        body.worker_id,
        body.workspace_ref,
        body.adapter,
        request.idempotencyKey,
        correlationId(),
      ),
    );
    return { worker_id: result.workerId, status: 'starting', revision: Number(result.revision) };
  }

  @Post(':worker_id/events')
  @RequireScope('runtime:write')
  @ApiOperation({ summary: 'record an event the worker reported (event_type starts with "worker.")' })
  @ApiResponse({ status: 202, type: CodexWorkerAccepted })
  @ApiErrors(RUNTIME_COMMAND, { 404: ['worker_not_found'], 409: ['worker_stopped'], 422: ['invalid_event_type'] })
  @Idempotent(202)
  async recordEvent(
    @CurrentPrincipal() principal: Principal,
    @Body() body: RecordCodexWorkerEventDto,
    @Keyed() request: KeyedRequest,
    @Param('worker_id', WorkerId) workerId: string,
  ) {
    return reply(
      await this.commands.execute(
        new RecordCodexWorkerEvent(
          principal.orgId,
          principal.userId,
          workerId,
          body.event.event_type,
          body.event.payload,
          request.idempotencyKey,
          correlationId(),
        ),
      ),
    );
  }

  @Post(':worker_id/heartbeat')
  @RequireScope('runtime:write')
  @ApiOperation({ summary: 'record that the worker is alive (no body, or an empty object)' })
  @ApiBody({ required: false, schema: { type: 'object', additionalProperties: false, maxProperties: 0 } })
  @ApiResponse({ status: 202, type: CodexWorkerAccepted })
  @ApiErrors(RUNTIME_COMMAND, { 404: ['worker_not_found'], 409: ['worker_stopped', 'worker_stopping'] })
  @Idempotent(202)
  async heartbeat(
    @CurrentPrincipal() principal: Principal,
    @Body(EmptyBodyPipe) _body: Record<string, never>,
    @Keyed() request: KeyedRequest,
    @Param('worker_id', WorkerId) workerId: string,
  ) {
    return reply(
      await this.commands.execute(
        new RecordCodexWorkerHeartbeat(principal.orgId, principal.userId, workerId, request.idempotencyKey, correlationId()),
      ),
    );
  }

  @Post(':worker_id/stop')
  @RequireScope('runtime:write')
  @ApiOperation({ summary: 'stop the worker (`force` stops it at once, otherwise it goes through stopping)' })
  @ApiResponse({ status: 202, type: CodexWorkerAccepted })
  @ApiErrors(RUNTIME_COMMAND, { 404: ['worker_not_found'], 409: ['worker_stopped', 'worker_stopping'] })
  @Idempotent(202)
  async stop(
    @CurrentPrincipal() principal: Principal,
    @Body() body: StopCodexWorkerDto,
    @Keyed() request: KeyedRequest,
    @Param('worker_id', WorkerId) workerId: string,
  ) {
    return reply(
      await this.commands.execute(
        new StopCodexWorker(principal.orgId, principal.userId, workerId, body.reason, body.force === true, request.idempotencyKey, correlationId()),
      ),
    );
  }

  @Get()
  @RequireScope('runtime:read')
  @ApiOperation({ summary: 'the org\'s workers from the read model, newest first, a page at a time' })
  @ApiOkResponse({ type: CodexWorkerSummaryPage })
  @ApiErrors(RUNTIME_READ, { 400: ['invalid_cursor'] })
  async list(@CurrentPrincipal() principal: Principal, @Query() query: ListQueryDto) {
    const page = await this.summaries.list(principal.orgId, query.limit ?? DEFAULT_PAGE_SIZE, query.after);
    if (!page) throw new RuntimeError('invalid_cursor', 'after does not name one of your workers');
    const now = new Date();
    return { workers: page.workers.map((row) => summaryOf(row, now)), next_after: page.nextAfter };
  }

  @Get(':worker_id')
  @RequireScope('runtime:read')
  @ApiOkResponse({ type: CodexWorkerSummaryAtRevision })
  @ApiErrors(RUNTIME_READ, READ_YOUR_WRITES, { 404: ['worker_not_found'] })
  @ApiOperation({
    summary: 'the worker summary from the read model, with the stream `revision` it reflects',
    description:
      'With `min_revision` (the `revision` of a command response) it answers once the read model has folded that ' +
      'revision, waiting up to RUNTIME_READ_YOUR_WRITES_TIMEOUT_MS (5 s), then 503 read_model_behind (retryable, ' +
      '`details.retry_after_ms`). `/snapshot` folds the stream itself instead (always current, costlier).',
  })
  async get(@CurrentPrincipal() principal: Principal, @Param('worker_id', WorkerId) workerId: string, @Query() query: MinRevisionQueryDto) {
    const read = () => this.summaries.find(principal.orgId, workerId);
    const row =
      query.min_revision === undefined
        ? await read()
        : await this.readModel.readAt(query.min_revision, read, () => codexWorkerBelongsTo(this.store, principal.orgId, workerId));
    if (!row) throw new RuntimeError('worker_not_found', `worker ${workerId} not found`);
    return { ...summaryOf(row, new Date()), revision: row.revision };
  }

  @Get(':worker_id/snapshot')
  @RequireScope('runtime:read')
  @ApiOperation({ summary: 'the worker folded from its event stream now (always current; costlier than the summary)' })
  @ApiOkResponse({ type: CodexWorkerSnapshot })
  @ApiErrors(RUNTIME_READ, { 404: ['worker_not_found'] })
  async snapshot(@CurrentPrincipal() principal: Principal, @Param('worker_id', WorkerId) workerId: string) {
    const summary = await this.snapshots.snapshot(principal.orgId, workerId);
    if (!summary) throw new RuntimeError('worker_not_found', `worker ${workerId} not found`);
    return summary;
  }
}

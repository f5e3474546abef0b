import { Body, Controller, Get, Param, Post, Query, UseGuards } from '@nestjs/common';
import { CommandBus } from '@nestjs/cqrs';
import { ApiBearerAuth, ApiOkResponse, ApiOperation, ApiResponse, ApiTags } from '@nestjs/swagger';
import { AccessTokenGuard, CurrentPrincipal, Principal, RequireScope } from '@khala/auth';
import { ApiErrors, currentCorrelationId } from '@khala/platform';
import { RuntimeError } from '../../runtime.error';
import { IdempotencyService } from '../../shared/idempotency/idempotency.service';
import { Idempotent, Keyed, KeyedRequest } from '../../shared/idempotency/idempotent.decorator';
import { MinRevisionQueryDto } from '../../shared/read-your-writes/min-revision-query.dto';
import { ReadModelWait } from '../../shared/read-your-writes/read-model-wait';
import { DEFAULT_PAGE_SIZE, ListQueryDto } from '../../shared/list-query.dto';
import { ResourceIdPipe } from '../../shared/resource-id.pipe';
import { AppendRunFrames } from '../commands/append-run-frames/append-run-frames.command';
import { AppendRunFramesDto } from '../commands/append-run-frames/append-run-frames.dto';
import { CancelRun } from '../commands/cancel-run/cancel-run.command';
import { CancelRunDto } from '../commands/cancel-run/cancel-run.dto';
import { CreateRun } from '../commands/create-run/create-run.command';
import { CreateRunDto } from '../commands/create-run/create-run.dto';
import { RunEventsQueryDto } from '../queries/run-events-query.dto';
import { RunEventsReader } from '../queries/run-events.reader';
import { RunSummariesRepository } from '../queries/run-summaries.repository';
import { READ_YOUR_WRITES, RUNTIME_COMMAND, RUNTIME_READ } from '../../shared/http/runtime-errors.openapi';
import { RunCancelAccepted, RunCreated, RunEventsPage, RunFramesAccepted, RunSummaryAtRevision, RunSummaryPage } from './runs.responses';

/** A malformed id names no run: 404, like any run the caller cannot see. */
const RunId = new ResourceIdPipe(() => new RuntimeError('run_not_found', 'run not found'));

const correlationId = () => currentCorrelationId() ?? 'none';

@ApiTags('runs')
@ApiBearerAuth()
@UseGuards(AccessTokenGuard)
@Controller('api/runtime/runs')
export class RunsController {
  constructor(
    private readonly commands: CommandBus,
    private readonly summaries: RunSummariesRepository,
    private readonly runEvents: RunEventsReader,
    readonly idempotency: IdempotencyService,
    private readonly readModel: ReadModelWait,
  ) {}

  @Post()
  @RequireScope('runtime:write')
  @ApiOperation({ summary: 'create a run in the caller\'s org' })
  @ApiResponse({ status: 201, type: RunCreated })
  @ApiErrors(RUNTIME_COMMAND, { 409: ['run_exists'] })
  @Idempotent(201)
  async create(@CurrentPrincipal() principal: Principal, @Body() body: CreateRunDto, @Keyed() request: KeyedRequest) {
    const result = await this.commands.execute(
      new CreateRun(principal.orgId, principal.userId, request.idempotencyKey, correlationId(), body.thread_id, body.metadata),
    );
    return { run_id: result.runId, status: 'created', revision: Number(result.revision) };
  }

  @Post(':run_id/frames')
  @RequireScope('runtime:write')
  @ApiOperation({ summary: 'append frames to a run (frame_id makes each frame idempotent)' })
  @ApiResponse({ status: 202, type: RunFramesAccepted })
  @ApiErrors(RUNTIME_COMMAND, { 404: ['run_not_found'], 409: ['run_terminal'], 422: ['invalid_frame_sequence'] })
  @Idempotent(202)
  async appendFrames(
    @CurrentPrincipal() principal: Principal,
    @Body() body: AppendRunFramesDto,
    @Keyed() request: KeyedRequest,
    @Param('run_id', RunId) runId: string,
  ) {
    const frames = body.frames.map((frame) => ({ frameId: frame.frame_id, type: frame.type, payload: frame.payload }));
    const result = await this.commands.execute(
      new AppendRunFrames(principal.orgId, principal.userId, runId, frames, request.idempotencyKey, correlationId()),
    );
    return { run_id: result.runId, accepted: result.accepted, revision: Number(result.revision) };
  }

  @Post(':run_id/cancel')
  @RequireScope('runtime:write')
  @ApiOperation({ summary: 'ask a run to cancel' })
  @ApiResponse({ status: 202, type: RunCancelAccepted })
  @ApiErrors(RUNTIME_COMMAND, { 404: ['run_not_found'], 409: ['run_terminal'] })
  @Idempotent(202)
  async cancel(
    @CurrentPrincipal() principal: Principal,
    @Body() body: CancelRunDto,
    @Keyed() request: KeyedRequest,
    @Param('run_id', RunId) runId: string,
  ) {
    const result = await this.commands.execute(
      new CancelRun(principal.orgId, principal.userId, runId, body.reason, request.idempotencyKey, correlationId()),
    );
    return { run_id: result.runId, status: result.status, revision: Number(result.revision) };
  }

  @Get()
  @RequireScope('runtime:read')
  @ApiOperation({ summary: 'the org\'s runs from the read model, newest first, a page at a time' })
  @ApiOkResponse({ type: RunSummaryPage })
  @ApiErrors(RUNTIME_READ, { 400: ['invalid_cursor'] })
  async list(@CurrentPrincipal() principal: Principal, @Query() query: ListQueryDto) {
    const page = await this.summaries.list(principal.orgId, query.limit ?? DEFAULT_PAGE_SIZE, query.after);
    if (!page) throw new RuntimeError('invalid_cursor', 'after does not name one of your runs');
    return {
      runs: page.runs.map((summary) => ({ ...summary.document, doc_version: summary.doc_version, watermark: summary.watermark })),
      next_after: page.nextAfter,
    };
  }

  @Get(':run_id')
  @RequireScope('runtime:read')
  @ApiOkResponse({ type: RunSummaryAtRevision })
  @ApiErrors(RUNTIME_READ, READ_YOUR_WRITES, { 404: ['run_not_found'] })
  @ApiOperation({
    summary: 'the run summary from the read model, with the stream `revision` it reflects',
    description:
      'With `min_revision` (the `revision` of a command response) it answers once the read model has folded that ' +
      'revision, waiting up to RUNTIME_READ_YOUR_WRITES_TIMEOUT_MS (5 s), then 503 read_model_behind (retryable, ' +
      '`details.retry_after_ms`). A run that exists but is not projected yet is waited for, not 404.',
  })
  async get(@CurrentPrincipal() principal: Principal, @Param('run_id', RunId) runId: string, @Query() query: MinRevisionQueryDto) {
    const read = () => this.summaries.find(principal.orgId, runId);
    const summary =
      query.min_revision === undefined
        ? await read()
        : await this.readModel.readAt(query.min_revision, read, () => this.runEvents.belongsTo(principal.orgId, runId));
    if (!summary) throw new RuntimeError('run_not_found', `run ${runId} not found`);
    return { ...summary.document, doc_version: summary.doc_version, watermark: summary.watermark, revision: summary.revision };
  }

  @Get(':run_id/events')
  @RequireScope('runtime:read')
  @ApiOperation({ summary: 'the run\'s events from its stream, in order, after `after_seq`' })
  @ApiOkResponse({ type: RunEventsPage })
  @ApiErrors(RUNTIME_READ, { 404: ['run_not_found'] })
  async events(@CurrentPrincipal() principal: Principal, @Param('run_id', RunId) runId: string, @Query() query: RunEventsQueryDto) {
    const afterSeq = query.after_seq ?? 0;
    const events = await this.runEvents.read(principal.orgId, runId, afterSeq, query.limit ?? 100);
    if (!events) throw new RuntimeError('run_not_found', `run ${runId} not found`);
    return { run_id: runId, events, next_after_seq: events.length ? events[events.length - 1].seq : afterSeq };
  }
}

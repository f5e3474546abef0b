import { Body, Controller, Get, Headers, HttpCode, Param, Post, UseGuards } from '@nestjs/common';
import { CommandBus } from '@nestjs/cqrs';
import { ApiBearerAuth, ApiHeader, ApiTags } from '@nestjs/swagger';
import { AccessTokenGuard, CurrentPrincipal, Principal } from '@khala/auth';
import { currentCorrelationId } from '@khala/platform';
import { RuntimeError } from '../../runtime.error';
import { CreateRun } from '../commands/create-run/create-run.command';
import { CreateRunDto } from '../commands/create-run/create-run.dto';
import { RunSummariesRepository } from '../queries/run-summaries.repository';

@ApiTags('runs')
@ApiBearerAuth()
@UseGuards(AccessTokenGuard)
@Controller('api/runtime/runs')
export class RunsController {
  constructor(
    private readonly commands: CommandBus,
    private readonly summaries: RunSummariesRepository,
  ) {}

  @Post()
  @HttpCode(201)
  @ApiHeader({ name: 'Idempotency-Key', required: false })
  async create(
    @CurrentPrincipal() principal: Principal,
    @Body() body: CreateRunDto,
    @Headers('idempotency-key') idempotencyKey?: string,
  ) {
    const result = await this.commands.execute(
      new CreateRun(
        principal.orgId,
        principal.userId,
        idempotencyKey,
        currentCorrelationId() ?? 'none',
        body.thread_id,
        body.metadata,
      ),
    );
    return { run_id: result.runId, status: 'created', revision: Number(result.revision) };
  }

  @Get(':run_id')
  async get(@CurrentPrincipal() principal: Principal, @Param('run_id') runId: string) {
    const summary = await this.summaries.find(principal.orgId, runId);
    if (!summary) throw new RuntimeError('run_not_found', `run ${runId} not found`);
    return { ...summary.document, doc_version: summary.doc_version, watermark: summary.watermark };
  }
}

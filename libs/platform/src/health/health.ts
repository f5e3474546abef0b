import { Controller, Get, Inject, Injectable, ServiceUnavailableException } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { ApiErrors } from '../http/openapi';
import { HealthCheck, HealthCheckService, HealthIndicatorResult, HealthIndicatorService } from '@nestjs/terminus';
import { Database } from '../database/database';
import { DomainError, ErrorKind } from '../errors/domain-error';
import { DATABASE } from '../platform.tokens';

export interface ReadinessCheck {
  name: string;
  /** Up with details, or down with the reason. Must not throw for an expected degradation. */
  check(): Promise<{ up: boolean; details?: Record<string, unknown> }>;
}

/** Modules (projectors, the gateway) register what readiness depends on besides the database. */
@Injectable()
export class ReadinessRegistry {
  private readonly checks: ReadinessCheck[] = [];
  register(check: ReadinessCheck): void {
    this.checks.push(check);
  }
  all(): readonly ReadinessCheck[] {
    return this.checks;
  }
}

class NotReadyError extends DomainError {
  readonly code = 'not_ready';
  readonly kind: ErrorKind = 'unavailable';
}

@ApiTags('health')
@Controller('health')
export class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly indicators: HealthIndicatorService,
    private readonly readiness: ReadinessRegistry,
    @Inject(DATABASE) private readonly db: Database,
  ) {}

  /** The process is up; says nothing about dependencies (a restart would not help them). */
  @Get('live')
  @ApiOperation({ summary: 'liveness: the process is up (says nothing about its dependencies)' })
  @ApiOkResponse({ schema: { type: 'object', required: ['status'], properties: { status: { type: 'string', enum: ['ok'] } } } })
  @ApiErrors({ 403: ['origin_not_allowed'], 500: ['internal'] })
  live() {
    return { status: 'ok' };
  }

  @Get('ready')
  @ApiOperation({ summary: 'readiness: the database and every registered check are up (503 not_ready names the ones down)' })
  // Above @HealthCheck so its 503 (terminus' own body) gives way to the body this route really answers.
  @ApiErrors({ 403: ['origin_not_allowed'], 500: ['internal'], 503: ['not_ready', 'storage_unavailable'] })
  @HealthCheck()
  async ready() {
    try {
      return await this.health.check([
        () => this.databaseUp(),
        ...this.readiness.all().map((check) => () => this.run(check)),
      ]);
    } catch (error) {
      if (error instanceof ServiceUnavailableException) {
        throw new NotReadyError('not ready', error.getResponse());
      }
      throw error;
    }
  }

  private async databaseUp(): Promise<HealthIndicatorResult> {
    const indicator = this.indicators.check('database');
    try {
      await this.db.query('select 1');
      return indicator.up();
    } catch (error) {
      return indicator.down({ message: (error as Error).message });
    }
  }

  private async run(check: ReadinessCheck): Promise<HealthIndicatorResult> {
    const indicator = this.indicators.check(check.name);
    const result = await check.check().catch((error: Error) => ({ up: false, details: { message: error.message } }));
    return result.up ? indicator.up(result.details) : indicator.down(result.details);
  }
}

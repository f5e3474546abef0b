import { IsIn, IsInt, IsOptional, Max, Min } from 'class-validator';
import { RuntimeEnv } from './runtime.env';

/** The projector worker reads runtime's keys plus its own (docs/operations.md). */
export class ProjectorWorkerEnv extends RuntimeEnv {
  /** Port of the worker's own HTTP listener: /metrics and /health/{live,ready}, nothing else. */
  @IsInt()
  @Min(0)
  @Max(65535)
  PROJECTOR_WORKER_PORT: number = 3004;

  /** Events per catch-up batch; unset: the runner's default. */
  @IsOptional()
  @IsInt()
  @Min(1)
  PROJECTOR_BATCH_SIZE?: number;

  /** `on`: this worker also runs the journal retention job (then runtime's API process need not). */
  @IsIn(['on', 'off'])
  PROJECTOR_RETENTION: 'on' | 'off' = 'off';

  /** `1`: one JSON line per committed batch on stdout (the crash test follows the worker's progress). */
  @IsIn(['0', '1'])
  PROJECTOR_REPORT_COMMITS: '0' | '1' = '0';
}

import { ApiProperty, IntersectionType } from '@nestjs/swagger';
import { CommandRevision, PageCursor, ReadModelVersion } from '../../shared/http/command-accepted.response';

const TIMESTAMP = { type: String, format: 'date-time', description: 'RFC 3339, UTC' } as const;
const NULLABLE_TIMESTAMP = { ...TIMESTAMP, nullable: true } as const;
const WORKER_STATUSES = ['starting', 'running', 'stopping', 'stopped', 'failed'];

export class CodexWorkerAccepted extends CommandRevision {
  @ApiProperty() worker_id!: string;
  @ApiProperty({ enum: WORKER_STATUSES }) status!: string;
}

export class CodexWorkerSummaryDocument {
  @ApiProperty() worker_id!: string;
  @ApiProperty() org_id!: string;
  @ApiProperty({ enum: WORKER_STATUSES }) status!: string;
  @ApiProperty() workspace_ref!: string;
  @ApiProperty() adapter!: string;
  @ApiProperty() started_by_user_id!: string;
  @ApiProperty(TIMESTAMP) created_at!: string;
  @ApiProperty(TIMESTAMP) updated_at!: string;
  @ApiProperty(NULLABLE_TIMESTAMP) last_heartbeat_at!: string | null;
  @ApiProperty({ type: String, nullable: true }) last_event_type!: string | null;
  @ApiProperty() event_count!: number;
  @ApiProperty({ type: String, nullable: true }) stop_reason!: string | null;
  @ApiProperty({ type: String, nullable: true }) error_code!: string | null;
  @ApiProperty({ type: String, nullable: true }) error_message!: string | null;
  @ApiProperty({ enum: ['fresh', 'stale', 'missing'], description: 'computed from last_heartbeat_at when served' })
  heartbeat_freshness!: string;
}

export class CodexWorkerSummary extends IntersectionType(CodexWorkerSummaryDocument, ReadModelVersion) {}

export class CodexWorkerSummaryAtRevision extends CodexWorkerSummary {
  @ApiProperty({ description: 'the worker stream revision this summary reflects' })
  revision!: number;
}

export class CodexWorkerSummaryPage extends PageCursor {
  @ApiProperty({ type: [CodexWorkerSummary] }) workers!: CodexWorkerSummary[];
}

/** The worker folded from its stream at request time (no read model involved). */
export class CodexWorkerSnapshot extends CodexWorkerSummaryDocument {
  @ApiProperty({ description: 'the worker stream revision folded' })
  revision!: number;
}

import { ApiProperty, ApiPropertyOptional, IntersectionType } from '@nestjs/swagger';
import { CommandRevision, PageCursor, ReadModelVersion } from '../../shared/http/command-accepted.response';

const TIMESTAMP = { type: String, format: 'date-time', description: 'RFC 3339, UTC' } as const;
const NULLABLE_TIMESTAMP = { ...TIMESTAMP, nullable: true } as const;

export class RunCreated extends CommandRevision {
  @ApiProperty() run_id!: string;
  @ApiProperty({ enum: ['created'] }) status!: 'created';
}

export class RunFramesAccepted extends CommandRevision {
  @ApiProperty() run_id!: string;
  @ApiProperty({ description: 'frames appended by this request (frames already stored under the same frame_id are not counted)' })
  accepted!: number;
}

export class RunCancelAccepted extends CommandRevision {
  @ApiProperty() run_id!: string;
  @ApiProperty({ description: 'the run status after the cancel request, e.g. canceling' }) status!: string;
}

export class RunSummaryDocument {
  @ApiProperty() run_id!: string;
  @ApiProperty() org_id!: string;
  @ApiProperty({ enum: ['created', 'running', 'canceling', 'succeeded', 'failed', 'canceled'] }) status!: string;
  @ApiProperty({ type: String, nullable: true }) thread_id!: string | null;
  @ApiProperty({ type: 'object', additionalProperties: true }) metadata!: Record<string, unknown>;
  @ApiProperty() created_by_user_id!: string;
  @ApiProperty(TIMESTAMP) created_at!: string;
  @ApiProperty(TIMESTAMP) updated_at!: string;
  @ApiProperty(NULLABLE_TIMESTAMP) started_at!: string | null;
  @ApiProperty(NULLABLE_TIMESTAMP) finished_at!: string | null;
  @ApiProperty({ type: String, nullable: true }) cancel_reason!: string | null;
  @ApiProperty({ type: 'object', additionalProperties: true, nullable: true, description: 'payload of the run.failed frame' })
  failure!: Record<string, unknown> | null;
  @ApiProperty() frame_count!: number;
}

export class RunSummary extends IntersectionType(RunSummaryDocument, ReadModelVersion) {}

export class RunSummaryAtRevision extends RunSummary {
  @ApiProperty({ description: 'the run stream revision this summary reflects' })
  revision!: number;
}

export class RunSummaryPage extends PageCursor {
  @ApiProperty({ type: [RunSummary] }) runs!: RunSummary[];
}

export class RunEvent {
  @ApiProperty({ description: '1-based position in the run: `after_seq` continues after it' }) seq!: number;
  @ApiProperty() event_id!: string;
  @ApiProperty({ example: 'run.text_delta' }) type!: string;
  @ApiProperty({ type: 'object', additionalProperties: true }) data!: Record<string, unknown>;
  @ApiProperty({ type: 'object', additionalProperties: true }) metadata!: Record<string, unknown>;
  @ApiProperty(TIMESTAMP) recorded_at!: string;
}

export class RunEventsPage {
  @ApiProperty() run_id!: string;
  @ApiProperty({ type: [RunEvent] }) events!: RunEvent[];
  @ApiPropertyOptional({ description: 'the last `seq` of this page (the request\'s after_seq when empty)' })
  next_after_seq!: number;
}

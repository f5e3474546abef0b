import { ApiProperty } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsDefined, IsObject, IsString, Length, ValidateNested } from 'class-validator';
import { IsJsonSizedAtMost } from '../../../shared/json-size.validator';

export const MAX_WORKER_EVENT_PAYLOAD_BYTES = 256 * 1024;

export class CodexWorkerEventInputDto {
  // The `worker.` prefix is a domain rule (422 invalid_event_type), checked by the decider.
  @ApiProperty({ maxLength: 128, example: 'worker.output' })
  @IsString()
  @Length(1, 128)
  event_type!: string;

  @ApiProperty({ type: 'object', additionalProperties: true, description: `free-form JSON, ≤ ${MAX_WORKER_EVENT_PAYLOAD_BYTES} bytes` })
  @IsObject()
  @IsJsonSizedAtMost(MAX_WORKER_EVENT_PAYLOAD_BYTES)
  payload!: Record<string, unknown>;
}

export class RecordCodexWorkerEventDto {
  @ApiProperty({ type: CodexWorkerEventInputDto })
  @IsDefined()
  @IsObject()
  @ValidateNested()
  @Type(() => CodexWorkerEventInputDto)
  event!: CodexWorkerEventInputDto;
}

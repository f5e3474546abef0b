import { ApiPropertyOptional } from '@nestjs/swagger';
import { IsBoolean, IsOptional, IsString, Length } from 'class-validator';

export class StopCodexWorkerDto {
  @ApiPropertyOptional({ maxLength: 1024 })
  @IsOptional()
  @IsString()
  @Length(1, 1024)
  reason?: string;

  @ApiPropertyOptional({
    default: false,
    description:
      'false: a running worker becomes `stopping` and becomes `stopped` when it sends a `worker.stopped` event; ' +
      'true: `stopped` at once, for a worker that will never acknowledge (docs/state-machines.md)',
  })
  @IsOptional()
  @IsBoolean()
  force?: boolean;
}

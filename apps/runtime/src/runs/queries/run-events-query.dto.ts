import { ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsInt, IsOptional, Max, Min } from 'class-validator';

export const MAX_RUN_EVENTS_PAGE = 1000;

export class RunEventsQueryDto {
  @ApiPropertyOptional({ minimum: 0, default: 0, description: 'continue after this seq (0: from the first event)' })
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(0)
  after_seq?: number;

  @ApiPropertyOptional({ minimum: 1, maximum: MAX_RUN_EVENTS_PAGE, default: 100 })
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(MAX_RUN_EVENTS_PAGE)
  limit?: number;
}

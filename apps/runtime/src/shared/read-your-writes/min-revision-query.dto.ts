import { ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsInt, IsOptional, Max, Min } from 'class-validator';

/** `?min_revision=N` on a read: answer once the read model reflects stream revision N. */
export class MinRevisionQueryDto {
  @ApiPropertyOptional({
    minimum: 0,
    description:
      'the `revision` a command response carried: answer once the read model has folded it (bounded wait, ' +
      'then 503 read_model_behind with retry_after_ms). Without it the read answers at once with what is projected.',
  })
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(0)
  @Max(Number.MAX_SAFE_INTEGER)
  min_revision?: number;
}

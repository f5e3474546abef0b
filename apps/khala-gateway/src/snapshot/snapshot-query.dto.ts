import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsInt, IsOptional, IsString, Length, Max, Min } from 'class-validator';

export const MAX_SNAPSHOT_PAGE = 1000;

export class SnapshotQueryDto {
  @ApiProperty({ example: 'runtime.run_summaries', description: 'a topic class with a snapshot source' })
  @IsString()
  @Length(1, 200)
  topic!: string;

  @ApiPropertyOptional({ description: 'next_page_token of the previous page; pins the snapshot watermark' })
  @IsOptional()
  @IsString()
  @Length(1, 2000)
  page_token?: string;

  @ApiPropertyOptional({ minimum: 1, maximum: MAX_SNAPSHOT_PAGE, default: 200 })
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(MAX_SNAPSHOT_PAGE)
  page_size?: number;
}

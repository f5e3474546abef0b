import { ApiPropertyOptional } from '@nestjs/swagger';
import { IsObject, IsOptional, IsString, Length, Matches } from 'class-validator';
import { IsJsonSizedAtMost } from '../../../shared/json-size.validator';

export class CreateRunDto {
  @ApiPropertyOptional({ maxLength: 128 })
  @IsOptional()
  @IsString()
  @Length(1, 128)
  @Matches(/^[A-Za-z0-9._:-]+$/, { message: 'thread_id may contain letters, digits and . _ : - only' })
  thread_id?: string;

  @ApiPropertyOptional({ type: 'object', additionalProperties: true, description: 'free-form JSON, ≤ 16 KiB' })
  @IsOptional()
  @IsObject()
  @IsJsonSizedAtMost(16 * 1024)
  metadata?: Record<string, unknown>;
}

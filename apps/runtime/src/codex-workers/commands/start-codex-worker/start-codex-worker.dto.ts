import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsOptional, IsString, Length, Matches } from 'class-validator';

export class StartCodexWorkerDto {
  @ApiPropertyOptional({ maxLength: 128, description: 'generated when absent' })
  @IsOptional()
  @IsString()
  @Length(1, 128)
  @Matches(/^[A-Za-z0-9._:-]+$/, { message: 'worker_id may contain letters, digits and . _ : - only' })
  worker_id?: string;

  @ApiProperty({ maxLength: 1024 })
  @IsString()
  @Length(1, 1024)
  workspace_ref!: string;

  @ApiProperty({ maxLength: 64 })
  @IsString()
  @Length(1, 64)
  @Matches(/^[A-Za-z0-9._:-]+$/, { message: 'adapter may contain letters, digits and . _ : - only' })
  adapter!: string;
}

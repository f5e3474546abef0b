import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { ArrayMaxSize, IsArray, IsOptional, IsString, Length } from 'class-validator';

export class RevokeSessionsDto {
  @ApiPropertyOptional({ type: [String], maxItems: 100 })
  @IsOptional()
  @IsArray()
  @ArrayMaxSize(100)
  @IsString({ each: true })
  @Length(1, 128, { each: true })
  session_ids?: string[];

  @ApiPropertyOptional({ type: [String], maxItems: 100, description: "every session of the caller's on these devices" })
  @IsOptional()
  @IsArray()
  @ArrayMaxSize(100)
  @IsString({ each: true })
  @Length(1, 128, { each: true })
  device_ids?: string[];

  @ApiProperty({ maxLength: 200 })
  @IsString()
  @Length(1, 200)
  reason!: string;
}

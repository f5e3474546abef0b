import { ApiPropertyOptional } from '@nestjs/swagger';
import { ArrayMaxSize, ArrayNotEmpty, IsArray, IsInt, IsOptional, IsString, Length, Matches, Max, Min } from 'class-validator';
import { DEVICE_ID_PATTERN } from '../../../identity/commands/sign-up/sign-up.dto';
import { SYNC_TOPIC_CLASSES } from '../../org-sync-policy';

export class IssueSyncTokenDto {
  @ApiPropertyOptional({ type: [String], enum: SYNC_TOPIC_CLASSES, description: "defaults to every class the org allows" })
  @IsOptional()
  @IsArray()
  @ArrayNotEmpty()
  @ArrayMaxSize(16)
  @IsString({ each: true })
  @Length(1, 128, { each: true })
  scopes?: string[];

  @ApiPropertyOptional({ description: "must be the session's own device (API tokens may name one)" })
  @IsOptional()
  @IsString()
  @Length(1, 128)
  @Matches(DEVICE_ID_PATTERN, { message: 'device_id may contain letters, digits and . _ : - only' })
  device_id?: string;

  @ApiPropertyOptional({ minimum: 60, maximum: 900, default: 300 })
  @IsOptional()
  @IsInt()
  @Min(60)
  @Max(900)
  ttl_seconds?: number;
}

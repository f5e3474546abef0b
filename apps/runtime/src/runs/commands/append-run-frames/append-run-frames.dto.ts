import { ApiProperty } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { ArrayMaxSize, ArrayMinSize, IsArray, IsIn, IsObject, IsString, Length, Matches, ValidateNested } from 'class-validator';
import { IsJsonSizedAtMost } from '../../../shared/json-size.validator';
import { HasUniqueValues } from '../../../shared/unique-values.validator';
import { FRAME_TYPES, FrameType } from '../../domain/run.decider';

export const MAX_FRAMES_PER_REQUEST = 500;
export const MAX_FRAME_PAYLOAD_BYTES = 256 * 1024;

export class RunFrameDto {
  @ApiProperty({ maxLength: 128, description: 'client-chosen; a frame_id already stored for the run is ignored' })
  @IsString()
  @Length(1, 128)
  @Matches(/^[A-Za-z0-9._:-]+$/, { message: 'frame_id may contain letters, digits and . _ : - only' })
  frame_id!: string;

  @ApiProperty({ enum: FRAME_TYPES })
  @IsString()
  @IsIn(FRAME_TYPES)
  type!: FrameType;

  @ApiProperty({ type: 'object', additionalProperties: true, description: `free-form JSON, ≤ ${MAX_FRAME_PAYLOAD_BYTES} bytes` })
  @IsObject()
  @IsJsonSizedAtMost(MAX_FRAME_PAYLOAD_BYTES)
  payload!: Record<string, unknown>;
}

export class AppendRunFramesDto {
  @ApiProperty({ type: [RunFrameDto], minItems: 1, maxItems: MAX_FRAMES_PER_REQUEST })
  @IsArray()
  @ArrayMinSize(1)
  @ArrayMaxSize(MAX_FRAMES_PER_REQUEST)
  @HasUniqueValues('frame_id')
  @ValidateNested({ each: true })
  @Type(() => RunFrameDto)
  frames!: RunFrameDto[];
}

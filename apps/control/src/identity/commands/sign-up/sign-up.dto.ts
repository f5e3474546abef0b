import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsEmail, IsOptional, IsString, Length, Matches, MaxLength } from 'class-validator';

export const DEVICE_ID_PATTERN = /^[A-Za-z0-9._:-]+$/;

export class SignUpDto {
  @ApiProperty({ example: 'me@example.com' })
  @IsString()
  @MaxLength(254)
  @IsEmail()
  email!: string;

  @ApiProperty({ minLength: 10, maxLength: 256, writeOnly: true })
  @IsString()
  @Length(10, 256)
  password!: string;

  @ApiProperty({ maxLength: 120 })
  @IsString()
  @Length(1, 120)
  name!: string;

  @ApiPropertyOptional({ maxLength: 120, description: 'defaults to "<name>\'s org"' })
  @IsOptional()
  @IsString()
  @Length(1, 120)
  org_name?: string;

  @ApiPropertyOptional({ maxLength: 128, description: 'the device this first session is bound to; generated if absent' })
  @IsOptional()
  @IsString()
  @Length(1, 128)
  @Matches(DEVICE_ID_PATTERN, { message: 'device_id may contain letters, digits and . _ : - only' })
  device_id?: string;
}

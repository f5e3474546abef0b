import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsString, Length, Matches, MaxLength, IsOptional } from 'class-validator';
import { DEVICE_ID_PATTERN } from '../sign-up/sign-up.dto';

export class LogInDto {
  // Not @IsEmail: a malformed address is just an unknown account, answered like any other.
  @ApiProperty()
  @IsString()
  @Length(1, 254)
  email!: string;

  @ApiProperty({ writeOnly: true })
  @IsString()
  @MaxLength(256)
  password!: string;

  @ApiProperty({ maxLength: 128, description: 'the device the new session is bound to' })
  @IsString()
  @Length(1, 128)
  @Matches(DEVICE_ID_PATTERN, { message: 'device_id may contain letters, digits and . _ : - only' })
  device_id!: string;

  @ApiPropertyOptional({ description: "org to act in; defaults to the org created at signup" })
  @IsOptional()
  @IsString()
  @Length(1, 128)
  org_id?: string;
}

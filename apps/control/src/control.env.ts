import { IsInt, IsOptional, IsString, Max, Min } from 'class-validator';
import { CommonEnv } from '@khala/platform';

export class ControlEnv extends CommonEnv {
  @IsInt()
  @Min(0)
  @Max(65535)
  CONTROL_PORT: number = 3001;

  @IsOptional()
  @IsString()
  AUTH_SIGNING_KEYS?: string;

  /** Connect as the control role directly instead of SET ROLE on the admin URL. */
  @IsOptional()
  @IsString()
  CONTROL_DATABASE_URL?: string;
}

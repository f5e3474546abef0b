import { IsInt, IsOptional, IsString, Max, Min } from 'class-validator';
import { CommonEnv } from '@khala/platform';

export class GatewayEnv extends CommonEnv {
  @IsInt()
  @Min(0)
  @Max(65535)
  KHALA_PORT: number = 3003;

  @IsOptional()
  @IsString()
  AUTH_SIGNING_KEYS?: string;

  /** Connect as the gateway role directly instead of SET ROLE on the admin URL. */
  @IsOptional()
  @IsString()
  GATEWAY_DATABASE_URL?: string;
}

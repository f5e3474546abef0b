import { IsIn, IsInt, IsOptional, IsString, Max, Min } from 'class-validator';
import { CommonEnv } from '@khala/platform';

export class ControlEnv extends CommonEnv {
  @IsInt()
  @Min(0)
  @Max(65535)
  CONTROL_PORT: number = 3001;


  /** Connect as the control role directly instead of SET ROLE on the admin URL. */
  @IsOptional()
  @IsString()
  CONTROL_DATABASE_URL?: string;

  /** Run control's projector in this process (the default; commands wait for it to catch up). */
  @IsIn(['on', 'off'])
  CONTROL_PROJECTORS: string = 'on';

  /** How long a command waits for its own events to reach the read models before a 503. */
  @IsInt()
  @Min(100)
  @Max(60_000)
  CONTROL_READ_YOUR_WRITES_TIMEOUT_MS: number = 5000;

  @IsInt()
  @Min(60)
  @Max(86_400)
  ACCESS_TOKEN_TTL_SECONDS: number = 900;

  /** docs/protocol/README.md §2: default 300 s, allowed 60..900. */
  @IsInt()
  @Min(60)
  @Max(900)
  SYNC_TOKEN_TTL_SECONDS: number = 300;

  /** scrypt cost as log2(N); 15 needs 32 MiB and tens of milliseconds per hash. */
  @IsInt()
  @Min(14)
  @Max(20)
  PASSWORD_SCRYPT_LOG_N: number = 15;

  /** Login/signup attempts per client IP: burst, then this many per minute. */
  @IsInt()
  @Min(1)
  AUTH_IP_BURST: number = 60;

  @IsInt()
  @Min(1)
  AUTH_IP_PER_MINUTE: number = 60;

  /** Login attempts per account (normalised email): burst, then this many per minute. */
  @IsInt()
  @Min(1)
  AUTH_ACCOUNT_BURST: number = 10;

  @IsInt()
  @Min(1)
  AUTH_ACCOUNT_PER_MINUTE: number = 10;
}

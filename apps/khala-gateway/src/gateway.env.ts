import { IsInt, IsOptional, IsString, Max, Min } from 'class-validator';
import { CommonEnv } from '@khala/platform';

export class GatewayEnv extends CommonEnv {
  @IsInt()
  @Min(0)
  @Max(65535)
  KHALA_PORT: number = 3003;


  /** Connect as the gateway role directly instead of SET ROLE on the admin URL. */
  @IsOptional()
  @IsString()
  GATEWAY_DATABASE_URL?: string;

  /** Server `sync:heartbeat` push interval (docs/protocol/README.md §5). */
  @IsInt()
  @Min(50)
  @Max(600_000)
  GATEWAY_HEARTBEAT_INTERVAL_MS: number = 15_000;

  /** A client that sends no frame for this long is closed (§9). */
  @IsInt()
  @Min(100)
  @Max(3_600_000)
  GATEWAY_IDLE_TIMEOUT_MS: number = 60_000;

  /** Per-connection cap on bytes written but not yet flushed to the socket (§9). */
  @IsInt()
  @Min(1024)
  GATEWAY_BUFFERED_AMOUNT_CAP: number = 1024 * 1024;

  /** How long a throttled connection may stay over the cap before it earns its next strike. */
  @IsInt()
  @Min(10)
  @Max(600_000)
  GATEWAY_SLOW_CONSUMER_STRIKE_MS: number = 5_000;

  /** Client events per second per connection (token bucket rate) and the bucket size. */
  @IsInt()
  @Min(1)
  GATEWAY_RATE_LIMIT_PER_SECOND: number = 20;

  @IsInt()
  @Min(1)
  GATEWAY_RATE_LIMIT_BURST: number = 60;

  /** Refused frames per second (a client ignoring retry_after_ms) beyond which the socket is closed 4428 (a burst of as many is tolerated). */
  @IsInt()
  @Min(1)
  GATEWAY_RATE_LIMIT_FLOOD_FRAMES: number = 100;

  /**
   * How long a subscribe waits for the projection to show an entity (`run:<id>:events`,
   * `worker:<id>:events`) the caller's org just created, before refusing it (docs/protocol/README.md §7).
   * Foreign and nonexistent ids wait the same bound, so both get one identical refusal.
   */
  @IsInt()
  @Min(0)
  @Max(60_000)
  GATEWAY_OWNERSHIP_WAIT_MS: number = 3_000;

  /** Fallback poll for revocations when NOTIFY is unavailable (PGlite) or was missed. */
  @IsInt()
  @Min(10)
  @Max(1_900)
  GATEWAY_REVOCATION_POLL_MS: number = 1_000;
}

import { IsInt, IsOptional, IsString, Max, Min } from 'class-validator';
import { CommonEnv } from '@khala/platform';

export class RuntimeEnv extends CommonEnv {
  @IsInt()
  @Min(0)
  @Max(65535)
  RUNTIME_PORT: number = 3002;


  /** Connect as the runtime role directly instead of SET ROLE on the admin URL. */
  @IsOptional()
  @IsString()
  RUNTIME_DATABASE_URL?: string;

  /** Run the projectors in this process (the default; a deployment may run them elsewhere). */
  @IsOptional()
  @IsString()
  RUNTIME_PROJECTORS: string = 'on';

  /**
   * Connections of the in-process projectors' own pool: apart from the request pool
   * (DATABASE_POOL_MAX), so a burst of commands cannot starve the projectors and delay delivery.
   * 10 = four runners each reading ahead while committing a batch, plus the LISTEN connection.
   */
  @IsInt()
  @Min(2)
  @Max(100)
  RUNTIME_PROJECTOR_POOL_MAX: number = 10;

  /**
   * Lease of an Idempotency-Key claim. A running command renews it every third of the lease; after
   * a crash, a retry with the same key may take the key over once the lease has run out.
   */
  @IsInt()
  @Min(1)
  @Max(3_600)
  RUNTIME_IDEMPOTENCY_LEASE_SECONDS: number = 30;

  /**
   * How long a read with `min_revision` waits for the read model to reach that revision before
   * answering 503 `read_model_behind` (retryable). Bounded so a stopped projector cannot hold
   * requests (and their connections) open indefinitely.
   */
  @IsInt()
  @Min(0)
  @Max(60_000)
  RUNTIME_READ_YOUR_WRITES_TIMEOUT_MS: number = 5_000;
}

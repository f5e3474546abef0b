import { IsIn, IsInt, IsOptional, IsString, Matches, Max, Min } from 'class-validator';

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

/** Where the data is: what every app reads, and all that `oa` reads. */
export class DataSourceEnv {
  /** Unset: embedded PGlite. Set: a real Postgres (the migration/admin connection). */
  @IsOptional()
  @Matches(/^postgres(ql)?:\/\//, { message: 'DATABASE_URL must be a postgres:// URL' })
  DATABASE_URL?: string;

  /** Where embedded PGlite keeps its files; "memory" keeps nothing. */
  @IsString()
  DATA_DIR: string = '.data';

  /** Unset: the Postgres event store. Set: EventStoreDB/KurrentDB. */
  @IsOptional()
  @Matches(/^(esdb|kurrentdb|esdb\+discover|kurrentdb\+discover):\/\//, {
    message: 'EVENTSTORE_URL must be an esdb:// or kurrentdb:// connection string',
  })
  EVENTSTORE_URL?: string;
}

/** Keys every app reads. Apps extend this with their own port and secrets. */
export class CommonEnv extends DataSourceEnv {
  @IsString()
  HOST: string = '127.0.0.1';

  /**
   * `kid:base64secret[,kid:base64secret]`, current key first: every app verifies tokens with the
   * same ring. Required when an app runs alone; the embedded entry generates one when unset.
   */
  @IsOptional()
  @IsString()
  AUTH_SIGNING_KEYS?: string;

  /**
   * Browser origins allowed to call the HTTP API (CORS) and to open sync sockets, comma-separated
   * exact origins (`https://app.example.com,http://localhost:5173`) or `*` for any. Unset: same-origin
   * only. Requests without an Origin header (native clients, curl) are never affected.
   */
  @IsOptional()
  @IsString()
  CORS_ORIGINS?: string;

  /**
   * OpenTelemetry: the OTLP/HTTP collector's base URL (`http://otel-collector:4318`); spans go to
   * `<url>/v1/traces`. Unset: tracing is off and the no-op API costs the request path nothing.
   */
  @IsOptional()
  @Matches(/^https?:\/\//, { message: 'OTEL_EXPORTER_OTLP_ENDPOINT must be an http:// or https:// URL' })
  OTEL_EXPORTER_OTLP_ENDPOINT?: string;

  @IsIn(LOG_LEVELS)
  LOG_LEVEL: (typeof LOG_LEVELS)[number] = 'info';

  /** Fallback poll interval for wake-ups when LISTEN/NOTIFY is unavailable (PGlite) or silent. */
  @IsInt()
  @Min(5)
  @Max(60_000)
  POLL_INTERVAL_MS: number = 500;

  /**
   * Connections in the app's request pool. Size it with the server's max_connections in mind: every
   * instance of every app holds up to this many, plus one LISTEN connection.
   */
  @IsInt()
  @Min(1)
  @Max(500)
  DATABASE_POOL_MAX: number = 10;

  /**
   * How long a shutdown (SIGTERM) may drain: sockets closed with 1001 and in-flight HTTP requests
   * completing share this bound; what is still open then is cut. Keep the orchestrator's grace
   * period above preStop + this (docs/deploy.md, "Graceful drain").
   */
  @IsInt()
  @Min(0)
  @Max(600_000)
  SHUTDOWN_DRAIN_MS: number = 15_000;
}

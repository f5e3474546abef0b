import { IsOptional, IsString, Matches } from 'class-validator';

/**
 * The keys `oa` reads, and only those: an operator's shell often carries a server's whole
 * environment, and a key the CLI never uses must not stop it.
 */
export class CliEnv {
  /** Unset: the embedded PGlite in DATA_DIR (through the server that owns it when one runs). */
  @IsOptional()
  @Matches(/^postgres(ql)?:\/\//, { message: 'DATABASE_URL must be a postgres:// URL' })
  DATABASE_URL?: string;

  @IsString()
  DATA_DIR: string = '.data';

  /** Set: analysts read EventStoreDB/KurrentDB; checkpoints and read models stay in Postgres. */
  @IsOptional()
  @Matches(/^(esdb|kurrentdb|esdb\+discover|kurrentdb\+discover):\/\//, {
    message: 'EVENTSTORE_URL must be an esdb:// or kurrentdb:// connection string',
  })
  EVENTSTORE_URL?: string;
}

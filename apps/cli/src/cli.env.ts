import { IsOptional, IsString } from 'class-validator';
import { DataSourceEnv } from '@khala/platform';

/**
 * The keys `oa` reads, and only those (where the data is), validated as every app validates them:
 * an operator's shell often carries a server's whole environment, and a key the CLI never uses
 * must not stop it. DATABASE_URL unset: the embedded PGlite in DATA_DIR (through the server that
 * owns it when one runs). EVENTSTORE_URL set: analysts read EventStoreDB/KurrentDB; checkpoints
 * and read models stay in Postgres.
 */
export class CliEnv extends DataSourceEnv {
  /** `oa esdb setup-acls`: the passwords it gives control's, runtime's and the projector's users (docs/deploy.md §6). */
  @IsOptional()
  @IsString()
  ESDB_CONTROL_PASSWORD?: string;

  @IsOptional()
  @IsString()
  ESDB_RUNTIME_PASSWORD?: string;

  @IsOptional()
  @IsString()
  ESDB_PROJECTOR_PASSWORD?: string;
}

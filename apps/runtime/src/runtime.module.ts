import { DynamicModule, Module, Provider } from '@nestjs/common';
import { CqrsModule } from '@nestjs/cqrs';
import { AuthModule, KeyRing } from '@khala/auth';
import { EVENT_STORE, PostgresEventStore } from '@khala/eventstore';
import { Database, DATABASE, PlatformModule } from '@khala/platform';
import { RuntimeProjectors } from './projections/runtime-projectors';
import { CreateRunHandler } from './runs/commands/create-run/create-run.handler';
import { RunsController } from './runs/http/runs.controller';
import { RunSummariesRepository } from './runs/queries/run-summaries.repository';
import { RuntimeEnv } from './runtime.env';

export interface RuntimeModuleOptions {
  env: RuntimeEnv;
  keys: KeyRing;
}

@Module({})
export class RuntimeModule {
  static forRoot({ env, keys }: RuntimeModuleOptions): DynamicModule {
    const eventStore: Provider = {
      provide: EVENT_STORE,
      inject: [DATABASE],
      useFactory: (db: Database) => new PostgresEventStore(db, { pollIntervalMs: env.POLL_INTERVAL_MS }),
    };
    return {
      module: RuntimeModule,
      imports: [
        PlatformModule.forApp({ app: 'runtime', env, databaseUrl: env.RUNTIME_DATABASE_URL ?? env.DATABASE_URL }),
        AuthModule.forRoot(keys),
        CqrsModule.forRoot(),
      ],
      controllers: [RunsController],
      providers: [
        eventStore,
        CreateRunHandler,
        RunSummariesRepository,
        ...(env.RUNTIME_PROJECTORS === 'off' ? [] : [RuntimeProjectors]),
      ],
    };
  }
}

import { DynamicModule, Module } from '@nestjs/common';
import { CqrsModule } from '@nestjs/cqrs';
import { AuthModule, KeyRing } from '@khala/auth';
import { EVENT_STORE, EventStore, EventStoreModule } from '@khala/eventstore';
import { DATABASE, PlatformModule } from '@khala/platform';
import { connectProjectors, PROJECTOR_CONNECTIONS, RuntimeProjectors } from './projections/runtime-projectors';
import { RecordCodexWorkerEventHandler } from './codex-workers/commands/record-codex-worker-event/record-codex-worker-event.handler';
import { RecordCodexWorkerHeartbeatHandler } from './codex-workers/commands/record-codex-worker-heartbeat/record-codex-worker-heartbeat.handler';
import { StartCodexWorkerHandler } from './codex-workers/commands/start-codex-worker/start-codex-worker.handler';
import { StopCodexWorkerHandler } from './codex-workers/commands/stop-codex-worker/stop-codex-worker.handler';
import { CodexWorkersController } from './codex-workers/http/codex-workers.controller';
import { CodexWorkerSummariesRepository } from './codex-workers/queries/codex-worker-summaries.repository';
import { CodexWorkerSnapshotsReader } from './codex-workers/queries/codex-worker-snapshots.reader';
import { AppendRunFramesHandler } from './runs/commands/append-run-frames/append-run-frames.handler';
import { CancelRunHandler } from './runs/commands/cancel-run/cancel-run.handler';
import { CreateRunHandler } from './runs/commands/create-run/create-run.handler';
import { RunsController } from './runs/http/runs.controller';
import { RunEventsReader } from './runs/queries/run-events.reader';
import { RunSummariesRepository } from './runs/queries/run-summaries.repository';
import { IdempotencyKeysRepository } from './shared/idempotency/idempotency-keys.repository';
import { IdempotencyService } from './shared/idempotency/idempotency.service';
import { ReadModelWait } from './shared/read-your-writes/read-model-wait';
import { RuntimeEnv } from './runtime.env';

export interface RuntimeModuleOptions {
  env: RuntimeEnv;
  keys: KeyRing;
}

@Module({})
export class RuntimeModule {
  static forRoot({ env, keys }: RuntimeModuleOptions): DynamicModule {
    return {
      module: RuntimeModule,
      imports: [
        PlatformModule.forApp({ app: 'runtime', env, databaseUrl: env.RUNTIME_DATABASE_URL ?? env.DATABASE_URL }),
        // Revocations and personal API tokens are checked against control's Postgres relations.
        AuthModule.forRoot(keys, { postgres: true }),
        EventStoreModule.forRoot({ database: DATABASE, eventStoreUrl: env.EVENTSTORE_URL, pollIntervalMs: env.POLL_INTERVAL_MS }),
        CqrsModule.forRoot(),
      ],
      controllers: [RunsController, CodexWorkersController],
      providers: [
        IdempotencyKeysRepository,
        IdempotencyService,
        CreateRunHandler,
        AppendRunFramesHandler,
        CancelRunHandler,
        RunSummariesRepository,
        RunEventsReader,
        StartCodexWorkerHandler,
        RecordCodexWorkerEventHandler,
        RecordCodexWorkerHeartbeatHandler,
        StopCodexWorkerHandler,
        CodexWorkerSummariesRepository,
        CodexWorkerSnapshotsReader,
        ReadModelWait,
        ...(env.RUNTIME_PROJECTORS === 'off'
          ? []
          : [
              {
                provide: PROJECTOR_CONNECTIONS,
                inject: [EVENT_STORE],
                useFactory: (requestStore: EventStore) => connectProjectors(env, requestStore),
              },
              RuntimeProjectors,
            ]),
      ],
    };
  }
}

import { DynamicModule, Inject, Injectable, InjectionToken, Module, OnApplicationShutdown, OnModuleInit, Optional } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import type { Registry } from 'prom-client';
import { Database, METRICS_REGISTRY, ReadinessRegistry } from '@khala/platform';
import { EsdbEventStore } from './esdb/esdb-event-store';
import { esdbReadinessCheck, registerEsdbMetrics } from './esdb/esdb-observability';
import { AppendSizeGuard, maxAppendSizeOf } from './esdb/esdb-request-cap';
import { EVENT_STORE, EventStore } from './event-store.port';
import { PostgresEventStore } from './postgres/postgres-event-store';

export interface EventStoreSelection {
  /** EventStoreDB/KurrentDB connection string; when absent the Postgres store is used. */
  eventStoreUrl?: string;
  /** The database the Postgres store runs on (the app's own pool, under the app's own role). */
  database: Database;
  pollIntervalMs?: number;
}

/** EVENTSTORE_URL set → EventStoreDB/KurrentDB; otherwise the Postgres store on the given database. */
export function createEventStore({ eventStoreUrl, database, pollIntervalMs }: EventStoreSelection): EventStore {
  return eventStoreUrl ? EsdbEventStore.connect(eventStoreUrl) : new PostgresEventStore(database, { pollIntervalMs });
}

export interface EventStoreModuleOptions {
  /** Injection token of the app's Database (e.g. the platform module's DATABASE). */
  database: InjectionToken;
  /** The app env's EVENTSTORE_URL: set → EventStoreDB/KurrentDB, unset → the Postgres store. */
  eventStoreUrl?: string;
  pollIntervalMs?: number;
}

@Injectable()
class EventStoreLifecycle implements OnModuleInit, OnApplicationShutdown {
  constructor(
    @Inject(EVENT_STORE) private readonly store: EventStore,
    @Optional() private readonly readiness?: ReadinessRegistry,
    @Optional() @Inject(METRICS_REGISTRY) private readonly metrics?: Registry,
  ) {}

  onModuleInit(): void {
    // The Postgres store is the app's database, which readiness checks already.
    if (!(this.store instanceof EsdbEventStore)) return;
    this.readiness?.register(esdbReadinessCheck(this.store));
    if (this.metrics) registerEsdbMetrics(this.store, this.metrics);
  }

  async onApplicationShutdown(): Promise<void> {
    // Closes the EventStoreDB connection; the Postgres store leaves the Database to its owner.
    await this.store.close();
  }
}

/** Provides the port under EVENT_STORE, choosing the adapter once, at startup. */
@Module({})
export class EventStoreModule {
  static forRoot(options: EventStoreModuleOptions): DynamicModule {
    const eventStoreUrl = options.eventStoreUrl;
    return {
      module: EventStoreModule,
      providers: [
        {
          provide: EVENT_STORE,
          inject: [options.database],
          useFactory: (database: Database) =>
            createEventStore({ eventStoreUrl: eventStoreUrl || undefined, database, pollIntervalMs: options.pollIntervalMs }),
        },
        EventStoreLifecycle,
        // On EventStoreDB a request body over the server's append limit could never be stored: 413 before any handler.
        ...(eventStoreUrl ? [{ provide: APP_GUARD, useValue: new AppendSizeGuard(maxAppendSizeOf(eventStoreUrl)) }] : []),
      ],
      exports: [EVENT_STORE],
    };
  }
}

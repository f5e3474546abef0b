import { DynamicModule, Global, Inject, Module, OnApplicationShutdown } from '@nestjs/common';
import { TerminusModule } from '@nestjs/terminus';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { CommonEnv } from './config/common-env';
import { Database } from './database/database';
import { APP_ROLES, AppName } from './database/database-url';
import { assertSchemaCurrent } from './database/migrations';
import { HealthController, ReadinessRegistry } from './health/health';
import { ShutdownDrain } from './health/shutdown-drain';
import { createLogger } from './logging/logger';
import { createMetricsRegistry, METRICS_REGISTRY, MetricsController } from './metrics/metrics';
import { observePool } from './metrics/pool-metrics';
import { APP_ENV, APP_NAME, DATABASE, LOGGER } from './platform.tokens';
import { tracingProviders } from './tracing/tracing.providers';

export interface PlatformOptions {
  app: AppName;
  env: CommonEnv;
  /** Overrides the app's own database URL (defaults to env.DATABASE_URL). */
  databaseUrl?: string;
}

class DatabaseLifecycle implements OnApplicationShutdown {
  constructor(
    @Inject(DATABASE) private readonly db: Database,
    private readonly drain: ShutdownDrain,
  ) {}
  async onApplicationShutdown(): Promise<void> {
    // Projectors writing through this pool finish their batch first.
    await this.drain.stop();
    await this.db.close();
  }
}

/**
 * What every app gets: its own database pool under its own role (and a refusal to start on a
 * schema that is behind), a JSON logger, a metrics registry, and health probes.
 */
@Global()
@Module({})
export class PlatformModule {
  static forApp(options: PlatformOptions): DynamicModule {
    const url = options.databaseUrl ?? options.env.DATABASE_URL;
    const logger = createLogger(options.app, options.env.LOG_LEVEL);
    return {
      module: PlatformModule,
      imports: [TerminusModule.forRoot({ logger: false })],
      controllers: [HealthController, MetricsController],
      providers: [
        { provide: APP_NAME, useValue: options.app },
        { provide: APP_ENV, useValue: options.env },
        { provide: LOGGER, useValue: logger },
        { provide: METRICS_REGISTRY, useValue: createMetricsRegistry(options.app) },
        ReadinessRegistry,
        ShutdownDrain,
        {
          provide: DATABASE,
          inject: [METRICS_REGISTRY],
          useFactory: async (registry: Registry) => {
            if (!url) throw new Error('DATABASE_URL is not set (the embedded entry point sets it for you)');
            const db = await Database.connect({
              url,
              role: APP_ROLES[options.app],
              max: options.env.DATABASE_POOL_MAX,
              applicationName: `khala-${options.app}`,
            });
            try {
              await assertSchemaCurrent(db);
            } catch (error) {
              await db.close();
              throw error;
            }
            observePool(registry, 'main', db.pool);
            return db;
          },
        },
        DatabaseLifecycle,
        ...tracingProviders(options.env),
      ],
      exports: [APP_NAME, APP_ENV, LOGGER, METRICS_REGISTRY, DATABASE, ReadinessRegistry, ShutdownDrain],
    };
  }
}

export type { Logger };

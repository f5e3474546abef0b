import { Inject, Injectable, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import type { Logger } from 'pino';
import { EVENT_STORE, EventStore } from '@khala/eventstore';
import { Database, DATABASE, LOGGER, ReadinessRegistry } from '@khala/platform';
import { ProjectorRunner } from '@khala/projections';
import { ControlProjection } from './control.projection';

/** Runs control's projector in the control process, checkpointed in control's own schema (INV-04). */
@Injectable()
export class ControlProjectors implements OnApplicationBootstrap, OnApplicationShutdown {
  readonly runner: ProjectorRunner;

  constructor(
    @Inject(EVENT_STORE) store: EventStore,
    @Inject(DATABASE) db: Database,
    @Inject(LOGGER) logger: Logger,
    readiness: ReadinessRegistry,
  ) {
    // Commands wait for this projector, so it commits as soon as the stream goes quiet.
    this.runner = new ProjectorRunner(store, db, new ControlProjection(), logger, {
      checkpointTable: 'control.projection_checkpoints',
      flushAfterMs: 1,
    });
    readiness.register({
      name: 'control-projector',
      check: async () => ({ up: this.runner.state !== 'failed', details: { state: this.runner.state } }),
    });
  }

  onApplicationBootstrap(): void {
    this.runner.start();
  }

  async onApplicationShutdown(): Promise<void> {
    await this.runner.stop();
  }
}

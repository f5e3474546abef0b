import { Inject, Injectable, OnApplicationBootstrap } from '@nestjs/common';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { EVENT_STORE, EventStore } from '@khala/eventstore';
import { Database, DATABASE, LOGGER, METRICS_REGISTRY, ReadinessRegistry, ShutdownDrain } from '@khala/platform';
import { ProjectorRunner } from '@khala/projections';
import { CONTROL_PROJECTOR_OPTIONS, controlProjections } from './control-projections';

/** Runs control's projector in the control process, checkpointed in control's own schema (INV-04). */
@Injectable()
export class ControlProjectors implements OnApplicationBootstrap {
  readonly runner: ProjectorRunner;

  constructor(
    @Inject(EVENT_STORE) store: EventStore,
    @Inject(DATABASE) db: Database,
    @Inject(LOGGER) logger: Logger,
    @Inject(METRICS_REGISTRY) metrics: Registry,
    readiness: ReadinessRegistry,
    drain: ShutdownDrain,
  ) {
    const [projection] = controlProjections();
    this.runner = new ProjectorRunner(store, db, projection, logger, { ...CONTROL_PROJECTOR_OPTIONS, metrics });
    readiness.register({
      name: 'control-projector',
      check: async () => ({ up: this.runner.state !== 'failed', details: { state: this.runner.state } }),
    });
    drain.onStop({ name: 'control-projector', run: () => this.stop() });
  }

  onApplicationBootstrap(): void {
    this.runner.start();
  }

  /** At shutdown, once HTTP has drained and before the pool it writes through closes: the batch in hand commits, the lease is released. */
  async stop(): Promise<void> {
    await this.runner.stop();
  }
}

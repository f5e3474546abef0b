import { comparePositions, EventStore, Position } from '@khala/eventstore';
import { Database } from '@khala/platform';
import { measureBacklog, measureTenantBacklog } from '../backlog';
import { loadCheckpoint } from '../checkpoint-store';
import { Projection } from '../projection';
import { countParked } from '../projection-failures';
import { CheckpointTable, FailuresTable } from '../projection-tables';
import { ProjectorMetrics } from '../projector-metrics';
import { ProjectorStatus, RunnerProgress, STALLED_AFTER_MS } from './projector-types';

/**
 * Lag, parked failures and progress of one projection, measured from the stored checkpoint (so a
 * standby reports the leader's progress too), for status(), readiness and the khala_projection_*
 * metrics. The per-tenant breakdown is measured only while there is a backlog.
 */
export class ProjectorStats {
  private lagEvents = 0;
  private lagSeconds = 0;
  private parked = 0;
  private observed?: Position;
  private lastProgressAt = Date.now();
  private timer?: NodeJS.Timeout;
  /** Tenants that have a khala_projection_tenant_lag_* series now (removed once they catch up). */
  private lagging = new Set<string>();

  constructor(
    private readonly store: EventStore,
    private readonly db: Database,
    private readonly projection: Projection,
    private readonly tables: { checkpointTable: CheckpointTable; failuresTable: FailuresTable },
    private readonly metrics: ProjectorMetrics,
    private readonly progress: Pick<RunnerProgress, 'state'>,
  ) {}

  /** Measures every `everyMs` (0: never) from now until stop(). */
  start(everyMs: number): void {
    if (everyMs <= 0) return;
    this.timer = setInterval(() => void this.refresh().catch(() => undefined), everyMs);
    this.timer.unref();
    void this.refresh().catch(() => undefined);
  }

  stop(): void {
    clearInterval(this.timer);
  }

  /** This instance parked an event (counted at once; the next refresh measures it anyway). */
  parkedOne(): void {
    this.parked += 1;
  }

  async refresh(): Promise<void> {
    const name = this.projection.name;
    const stored = (await loadCheckpoint(this.db, name, this.tables.checkpointTable))?.position;
    const moved = stored && (!this.observed || comparePositions(stored, this.observed) !== 0);
    if (moved) this.lastProgressAt = Date.now();
    this.observed = stored;
    const backlog = await measureBacklog(this.store, this.db, this.projection.filter, stored);
    if (backlog.events === 0) this.lastProgressAt = Date.now();
    this.lagEvents = backlog.events;
    this.lagSeconds = backlog.ageSeconds;
    this.parked = await countParked(this.db, name, this.tables.failuresTable).catch(() => 0);
    this.metrics.lagEvents.set({ projection: name }, backlog.events);
    this.metrics.lagSeconds.set({ projection: name }, backlog.ageSeconds);
    this.metrics.parked.set({ projection: name }, this.parked);
    this.metrics.stalled.set({ projection: name }, this.isStalled() || this.progress.state === 'failed' ? 1 : 0);
    if (stored) this.metrics.checkpoint.set({ projection: name }, Number(stored.prepare));
    await this.refreshTenantLag(stored, backlog.events > 0);
  }

  private async refreshTenantLag(checkpoint: Position | undefined, behind: boolean): Promise<void> {
    const projection = this.projection.name;
    const tenants = behind ? await measureTenantBacklog(this.store, this.db, this.projection.filter, checkpoint) : [];
    const now = new Set(tenants.map((entry) => entry.tenant));
    for (const tenant of this.lagging) {
      if (now.has(tenant)) continue;
      this.metrics.tenantLagEvents.remove({ projection, tenant });
      this.metrics.tenantLagSeconds.remove({ projection, tenant });
    }
    for (const { tenant, events, ageSeconds } of tenants) {
      this.metrics.tenantLagEvents.set({ projection, tenant }, events);
      this.metrics.tenantLagSeconds.set({ projection, tenant }, ageSeconds);
    }
    this.lagging = now;
  }

  /** A backlog the stored checkpoint has not moved through for STALLED_AFTER_MS. */
  private isStalled(): boolean {
    return this.lagEvents > 0 && Date.now() - this.lastProgressAt > STALLED_AFTER_MS;
  }

  status(progress: Pick<RunnerProgress, 'state' | 'lastError'>, leader: boolean): ProjectorStatus {
    const stalled = this.isStalled();
    return {
      projection: this.projection.name,
      version: this.projection.version,
      state: progress.state,
      leader,
      checkpoint: this.observed && {
        commit: this.observed.commit.toString(),
        prepare: this.observed.prepare.toString(),
      },
      lagEvents: this.lagEvents,
      lagSeconds: this.lagSeconds,
      parked: this.parked,
      lastProgressAt: this.lastProgressAt,
      stalled,
      lastError: progress.lastError,
    };
  }
}

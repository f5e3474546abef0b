import { Counter, Gauge, Histogram, Registry } from 'prom-client';

type Label = 'projection';
type TenantLabel = 'projection' | 'tenant';

/** Prometheus series of every projector in a process, registered once per registry. */
export interface ProjectorMetrics {
  checkpoint: Gauge<Label>;
  lagEvents: Gauge<Label>;
  lagSeconds: Gauge<Label>;
  /** Per tenant (org), only the tenants with a backlog and at most TENANT_LAG_TOP_N of them. */
  tenantLagEvents: Gauge<TenantLabel>;
  tenantLagSeconds: Gauge<TenantLabel>;
  stalled: Gauge<Label>;
  parked: Gauge<Label>;
  leader: Gauge<Label>;
  events: Counter<Label>;
  batchSeconds: Histogram<Label>;
}

const byRegistry = new WeakMap<Registry, ProjectorMetrics>();

export function projectorMetrics(registry: Registry = new Registry()): ProjectorMetrics {
  const existing = byRegistry.get(registry);
  if (existing) return existing;
  const registers = [registry];
  const labelNames = ['projection'] as const;
  const tenantLabels = ['projection', 'tenant'] as const;
  const metrics: ProjectorMetrics = {
    checkpoint: new Gauge({ name: 'khala_projection_checkpoint_position', help: 'Prepare position of the stored checkpoint', labelNames, registers }),
    lagEvents: new Gauge({
      name: 'khala_projection_lag_events',
      help: 'Matching events in the store after the checkpoint (counted up to a cap)',
      labelNames,
      registers,
    }),
    lagSeconds: new Gauge({
      name: 'khala_projection_lag_seconds',
      help: 'Age of the oldest event not yet projected (0 when caught up)',
      labelNames,
      registers,
    }),
    tenantLagEvents: new Gauge({
      name: 'khala_projection_tenant_lag_events',
      help: 'Events not yet projected per tenant (org), among the oldest of the backlog; only the tenants most behind, none when caught up',
      labelNames: tenantLabels,
      registers,
    }),
    tenantLagSeconds: new Gauge({
      name: 'khala_projection_tenant_lag_seconds',
      help: "Age of the tenant's oldest event not yet projected; same tenants as khala_projection_tenant_lag_events",
      labelNames: tenantLabels,
      registers,
    }),
    stalled: new Gauge({
      name: 'khala_projection_stalled',
      help: '1 while the projection is halted on a poison event or has a backlog its checkpoint has not moved through for 120 s',
      labelNames,
      registers,
    }),
    parked: new Gauge({ name: 'khala_projection_parked_failures', help: 'Poison events parked and not resolved', labelNames, registers }),
    leader: new Gauge({ name: 'khala_projection_leader', help: '1 while this instance holds the projection lease', labelNames, registers }),
    events: new Counter({ name: 'khala_projection_events_total', help: 'Events applied by committed batches', labelNames, registers }),
    batchSeconds: new Histogram({
      name: 'khala_projection_batch_duration_seconds',
      help: 'Batch transaction duration (projection + journal + checkpoint)',
      labelNames,
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers,
    }),
  };
  byRegistry.set(registry, metrics);
  return metrics;
}

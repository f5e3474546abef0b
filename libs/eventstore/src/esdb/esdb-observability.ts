import { Counter, Gauge, Registry } from 'prom-client';
import type { ReadinessCheck } from '@khala/platform';
import { EsdbEventStore } from './esdb-event-store';

const READINESS_TIMEOUT_MS = 2_000;

/** Ready when the server answers a one-event `$all` read in time (it is the authority for writes). */
export function esdbReadinessCheck(store: EsdbEventStore, timeoutMs = READINESS_TIMEOUT_MS): ReadinessCheck {
  return {
    name: 'event_store',
    async check() {
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<never>((_resolve, reject) => {
        timer = setTimeout(() => reject(new Error(`EventStoreDB did not answer within ${timeoutMs} ms`)), timeoutMs);
      });
      try {
        const head = await Promise.race([store.headPosition(), timeout]);
        return { up: true, details: { kind: 'eventstoredb', head: head ? String(head.commit) : null } };
      } catch (error) {
        return { up: false, details: { kind: 'eventstoredb', message: (error as Error).message } };
      } finally {
        clearTimeout(timer);
      }
    },
  };
}

/**
 * Subscription metrics for /metrics: reconnects, messages held, and lag (the head's commit position
 * minus the furthest-behind subscription's last position, in log bytes; read at scrape time).
 */
export function registerEsdbMetrics(store: EsdbEventStore, registry: Registry): void {
  let counted = 0;
  new Counter({
    name: 'khala_eventstore_subscription_reconnects_total',
    help: 'EventStoreDB $all subscriptions resubscribed after a transient failure',
    registers: [registry],
    collect() {
      const total = store.subscriptionStats().reconnects;
      if (total > counted) this.inc(total - counted);
      counted = total;
    },
  });
  new Gauge({
    name: 'khala_eventstore_subscription_buffered_messages',
    help: 'Messages read from EventStoreDB and not yet taken by the consumers (bounded by the high-water mark)',
    registers: [registry],
    collect() {
      this.set(store.subscriptionStats().buffered);
    },
  });
  new Gauge({
    name: 'khala_eventstore_subscription_lag_positions',
    help: 'Head commit position minus the furthest-behind open subscription position (log bytes)',
    registers: [registry],
    async collect() {
      const { positions } = store.subscriptionStats();
      if (positions.length === 0) return this.set(0);
      const head = await store.headPosition().catch(() => undefined);
      if (!head) return;
      const behind = positions.reduce((lowest, position) => (position.commit < lowest ? position.commit : lowest), positions[0].commit);
      this.set(Number(head.commit > behind ? head.commit - behind : 0n));
    },
  });
}

/**
 * `esdb-catch-up` (issue #13 item 5): a `$all` subscription catching up from the start over N events
 * already stored, through the EventStoreDB adapter against the FAKE emulator and through the
 * Postgres store, each subscriber in a process of its own (bench/esdb/esdb-catch-up.ts) so its
 * peak RSS is its own. The adapter stops reading at a high-water mark (SUBSCRIPTION_HIGH_WATER_MARK
 * messages), so its peak must not grow with N; the events themselves would take roughly
 * N × their size if buffered.
 *
 *   DATABASE_URL=postgres://… npm run bench -- esdb-catch-up [--events 1000000] [--smoke]
 *
 * The emulator is our fake: its figure bounds the adapter and the client library, not a real
 * server's read path. Without DATABASE_URL the Postgres row is skipped.
 */
import { loadavg } from 'node:os';
import { machineDescription } from '../lib/report';
import { Measurement, NO_VIOLATIONS, Ratio, Scenario, ScenarioResult } from '../lib/scenario';
import { spawnJsonChild } from '../lib/store/child-process';

interface CatchUpResult {
  store: string;
  events: number;
  seconds: number;
  eventsPerSecond: number;
  peakRssMiB: number;
  rssBeforeMiB: number;
}

async function catchUpIn(store: 'esdb' | 'postgres', events: number, databaseUrl: string | undefined): Promise<CatchUpResult> {
  const child = spawnJsonChild('bench/esdb/esdb-catch-up.ts', { args: [`--store=${store}`, `--events=${events}`], env: { DATABASE_URL: databaseUrl } });
  try {
    return await child.next<CatchUpResult>();
  } finally {
    await child.stop();
  }
}

function measurement(variant: string, result: CatchUpResult, expected: number): Measurement {
  return {
    system: 'khala',
    variant,
    figures: {
      events: result.events,
      events_per_s: result.eventsPerSecond,
      peak_rss_mib: result.peakRssMiB,
      rss_before_catch_up_mib: result.rssBeforeMiB,
    },
    // A catch-up that ends short of what is stored has skipped events.
    integrity: { ...NO_VIOLATIONS, gaps: Math.max(0, expected - result.events) },
  };
}

const scenario: Scenario = {
  name: 'esdb-catch-up',
  description: '$all catch-up from the start: EventStoreDB adapter (FAKE emulator) vs the Postgres store',
  options: { events: { type: 'string' } },
  async run({ smoke, databaseUrl, args }): Promise<ScenarioResult> {
    const events = args.integer('events', smoke ? 2_000 : 1_000_000);
    const loadBefore = loadavg()[0];
    const measurements: Measurement[] = [];
    const ratios: Ratio[] = [];
    const notes: string[] = [];
    const esdb = await catchUpIn('esdb', events, undefined);
    measurements.push(measurement('esdb adapter, FAKE emulator', esdb, events));
    if (databaseUrl) {
      const postgres = await catchUpIn('postgres', events, databaseUrl);
      measurements.push(measurement('postgres store', postgres, events));
      ratios.push({ label: 'events/s, EventStoreDB adapter on the emulator ÷ Postgres store', value: esdb.eventsPerSecond / postgres.eventsPerSecond, target: 'a figure', met: true });
    } else {
      notes.push('Postgres store skipped: DATABASE_URL is not set');
    }
    notes.push(`${events} events of ~200-character text; seeding is not measured; peak RSS is the subscriber process's maxRSS`);
    notes.push(`1-minute load average ${loadBefore.toFixed(1)} at the start, ${loadavg()[0].toFixed(1)} at the end`);
    return { scenario: 'esdb-catch-up', machine: machineDescription(), measurements, ratios, notes };
  },
};

export default scenario;

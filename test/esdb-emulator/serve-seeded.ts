/**
 * FAKE — test support only. Starts the emulator in a process of its own with `events` events
 * already in its log (streams `bench-<n>` of 50 events each, a 200-character text per event), and
 * prints `{"connectionString": …}` on one line; stops when stdin closes. For the catch-up
 * benchmark, so the subscriber's memory is measured apart from the emulator's.
 */
import { randomUUID } from 'node:crypto';
import { EmulatorLog } from './emulator-log';
import { startEsdbEmulator } from './esdb-emulator';

async function main(total: number) {
  const log = new EmulatorLog();
  const text = 'x'.repeat(200);
  const metadata = Buffer.from(JSON.stringify({ correlation_id: 'bench', causation_id: 'bench', actor: 'bench', schema_version: 1 }));
  for (let stream = 0; stream * 50 < total; stream++) {
    const count = Math.min(50, total - stream * 50);
    const events = Array.from({ length: count }, (_, index) => ({
      id: randomUUID(),
      type: 'BenchTextDelta',
      contentType: 'application/json',
      data: Buffer.from(JSON.stringify({ index, text })),
      customMetadata: metadata,
    }));
    log.append(`bench-${stream}`, { kind: 'no_stream' }, events);
  }
  const emulator = await startEsdbEmulator({ log });
  process.stdout.write(`${JSON.stringify({ connectionString: emulator.connectionString })}\n`);
  process.stdin.resume();
  process.stdin.on('end', () => void emulator.stop().then(() => process.exit(0)));
}

void main(Number(process.argv[2] ?? '1000'));

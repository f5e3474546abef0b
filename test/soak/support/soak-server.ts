/**
 * The soak's server process: the real embedded entry point (control, runtime and khala-gateway in
 * one process, apps/embedded/src/main.ts) plus a probe the parent asks over IPC. The probe forces a
 * full GC first (the child runs with --expose-gc), so heap figures measure what is retained, not
 * when the collector last ran.
 */
import '../../../apps/embedded/src/main';
import { readdirSync } from 'node:fs';
import { getHeapSpaceStatistics, writeHeapSnapshot } from 'node:v8';

export interface ServerProbe {
  rssBytes: number;
  /** After two forced full GCs. */
  heapUsedBytes: number;
  externalBytes: number;
  fds: number;
  activeHandles: number;
  /** Used bytes per V8 heap space (old, code, large objects…): which one grows tells what leaks. */
  spaces: Record<string, number>;
}

const gc = (globalThis as { gc?: () => void }).gc;

process.on('message', (message: { type?: string; id?: number; path?: string }) => {
  if (message?.type === 'heap-snapshot' && message.path) {
    // For reading a leak: SOAK_HEAP_SNAPSHOTS=1 writes one at mid-run and one at the end.
    writeHeapSnapshot(message.path);
    process.send?.({ type: 'probe', id: message.id });
    return;
  }
  if (message?.type !== 'probe') return;
  // Two passes: the first can leave weakly held objects for the second.
  gc?.();
  gc?.();
  const memory = process.memoryUsage();
  const probe: ServerProbe = {
    rssBytes: memory.rss,
    heapUsedBytes: memory.heapUsed,
    externalBytes: memory.external,
    fds: readdirSync('/proc/self/fd').length,
    activeHandles: (process as unknown as { _getActiveHandles(): unknown[] })._getActiveHandles().length,
    spaces: Object.fromEntries(getHeapSpaceStatistics().map((space) => [space.space_name, space.space_used_size])),
  };
  process.send?.({ type: 'probe', id: message.id, probe });
});

// Warnings (MaxListenersExceededWarning above all) also go to stderr by default; this line makes
// them greppable whatever NODE_OPTIONS says about warnings.
process.on('warning', (warning) => process.stderr.write(`[soak-warning] ${warning.name}: ${warning.message}\n`));

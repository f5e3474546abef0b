import { IntervalHistogram, monitorEventLoopDelay } from 'node:perf_hooks';
import { Gauge, Registry } from 'prom-client';

/** Timer resolution of the monitor: a delay shorter than this is not seen. */
const RESOLUTION_MS = 10;
/** Quantiles are over a window of this length; the last full window is reported until the new one has data. */
export const EVENT_LOOP_WINDOW_MS = 30_000;
const MIN_SAMPLES = 100;
const QUANTILES = [0.5, 0.9, 0.99, 1] as const;

interface Window {
  quantiles: Map<number, number>;
}

/**
 * One monitor per process (the all-in-one process registers three apps): a timer every 10 ms whose
 * lateness is the event loop's delay. A stall here delays every request, NOTIFY and frame at once,
 * which is why it is worth a series of its own.
 */
class EventLoopDelay {
  private readonly histogram: IntervalHistogram = monitorEventLoopDelay({ resolution: RESOLUTION_MS });
  private last?: Window;
  private readonly timer: NodeJS.Timeout;

  constructor() {
    this.histogram.enable();
    this.timer = setInterval(() => this.rotate(), EVENT_LOOP_WINDOW_MS);
    this.timer.unref();
  }

  /** Seconds per quantile (1 = the maximum) of the current window, or of the last one while this one is young. */
  quantiles(): Map<number, number> {
    if (this.histogram.count >= MIN_SAMPLES || !this.last) return this.read();
    return this.last.quantiles;
  }

  private rotate(): void {
    this.last = { quantiles: this.read() };
    this.histogram.reset();
  }

  private read(): Map<number, number> {
    const seconds = (ns: number) => (Number.isFinite(ns) ? ns / 1e9 : 0);
    return new Map(QUANTILES.map((q) => [q, seconds(q === 1 ? this.histogram.max : this.histogram.percentile(q * 100))]));
  }
}

let shared: EventLoopDelay | undefined;

/** Registers khala_event_loop_delay_seconds{quantile} (0.5, 0.9, 0.99 and 1 = max) on the registry. */
export function registerEventLoopDelay(registry: Registry): void {
  shared ??= new EventLoopDelay();
  const monitor = shared;
  new Gauge({
    name: 'khala_event_loop_delay_seconds',
    help: `Event-loop delay of this process (timer lateness at ${RESOLUTION_MS} ms resolution) over the last ${EVENT_LOOP_WINDOW_MS / 1000} s, by quantile (1 = max)`,
    labelNames: ['quantile'],
    registers: [registry],
    collect() {
      for (const [quantile, seconds] of monitor.quantiles()) this.set({ quantile: String(quantile) }, seconds);
    },
  });
}

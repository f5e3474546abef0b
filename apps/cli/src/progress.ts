import { SingleBar } from 'cli-progress';

/**
 * A progress bar with rate and ETA on a terminal; JSON progress lines on stderr otherwise, so
 * scripts can parse progress and stdout stays clean for data.
 *
 * The total is counted when the work starts, but the work may see more: a rebuild or replay
 * reads on to the store head, which moves while it runs (events appended meanwhile), and the
 * backlog count is capped. So the total grows to what has been seen: done never passes total.
 */
export class Progress {
  private bar?: SingleBar;
  private started = Date.now();
  private lastLine = 0;
  private count = 0;
  private total: number | undefined;

  constructor(
    private readonly label: string,
    initialTotal: number | undefined,
    private readonly interactive = Boolean(process.stderr.isTTY),
    private readonly stream: NodeJS.WritableStream = process.stderr,
  ) {
    this.total = initialTotal;
    if (interactive) {
      this.bar = new SingleBar({
        format: `${label} [{bar}] {percentage}% | {value}/{total} | {rate}/s | ETA {eta_formatted}`,
        stream: this.stream,
        hideCursor: true,
      });
      this.bar.start(initialTotal ?? 0, 0, { rate: 0 });
    }
  }

  tick(by = 1): void {
    this.count += by;
    if (this.total !== undefined && this.count > this.total) {
      this.total = this.count;
      this.bar?.setTotal(this.total);
    }
    const now = Date.now();
    if (this.bar) {
      this.bar.update(this.count, { rate: this.rate(now) });
    } else if (now - this.lastLine >= 1000) {
      this.lastLine = now;
      this.line(now, false);
    }
  }

  finish(): void {
    if (this.bar) this.bar.stop();
    else this.line(Date.now(), true);
  }

  private rate(now: number): number {
    return Math.round((this.count * 1000) / Math.max(1, now - this.started));
  }

  private line(now: number, done: boolean): void {
    const rate = this.rate(now);
    const eta = this.total && rate > 0 ? Math.max(0, Math.round((this.total - this.count) / rate)) : null;
    this.stream.write(
      `${JSON.stringify({ progress: this.label, done: this.count, total: this.total ?? null, rate_per_s: rate, eta_s: eta, finished: done })}\n`,
    );
  }
}

import { ProjectionLease } from '../leader-lease';
import { RunnerProgress } from './projector-types';

/**
 * Who writes: a runner stands by until it holds the projection's lease and gives it up when it
 * stops, halts or loses a fence. Every wait of a runner that is not writing (standby, paused,
 * halted on a poison event) sleeps here, so stop() ends all of them with one wake-up.
 */
export class Leadership {
  private wakeStandby?: () => void;

  constructor(
    private readonly lease: ProjectionLease,
    private readonly progress: RunnerProgress,
    private readonly retryMs = 1000,
  ) {}

  get held(): boolean {
    return this.lease.held;
  }

  /** Tries until this instance holds the lease (true) or the runner stops (false). */
  async acquire(): Promise<boolean> {
    while (!this.progress.stopping) {
      try {
        if (await this.lease.tryAcquire()) return true;
      } catch (error) {
        this.progress.lastError = (error as Error).message;
      }
      await this.standBy();
    }
    return false;
  }

  async release(): Promise<void> {
    await this.lease.release().catch(() => undefined);
  }

  /** Sleeps until woken by stop() or the standby retry interval passes. */
  async standBy(): Promise<void> {
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, this.retryMs);
      this.wakeStandby = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }

  wake(): void {
    this.wakeStandby?.();
  }
}

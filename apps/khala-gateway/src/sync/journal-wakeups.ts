import { Inject, Injectable, OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import { Database, DATABASE, APP_ENV, CommonEnv } from '@khala/platform';
import { JOURNAL_CHANNEL } from '@khala/projections';

/**
 * One LISTEN per gateway process, fanned out to every session (notify, then pull). The poll
 * timer covers lost notifications and PGlite, which has no cross-connection NOTIFY.
 */
@Injectable()
export class JournalWakeups implements OnModuleInit, OnApplicationShutdown {
  private readonly listeners = new Set<() => void>();
  private timer?: NodeJS.Timeout;
  private unlisten?: () => void;

  constructor(
    @Inject(DATABASE) private readonly db: Database,
    @Inject(APP_ENV) private readonly env: CommonEnv,
  ) {}

  async onModuleInit(): Promise<void> {
    this.unlisten = await this.db.listen(JOURNAL_CHANNEL, () => this.wakeAll());
    this.timer = setInterval(() => this.wakeAll(), this.env.POLL_INTERVAL_MS);
    this.timer.unref();
  }

  onApplicationShutdown(): void {
    clearInterval(this.timer);
    this.unlisten?.();
  }

  register(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private wakeAll(): void {
    for (const listener of this.listeners) listener();
  }
}

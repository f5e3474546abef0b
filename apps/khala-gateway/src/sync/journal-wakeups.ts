import { Inject, Injectable, OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import { CommittedJournal, isCommittedJournal, JOURNAL_CHANNEL, JOURNAL_TOPICS_RESET } from '@khala/contracts';
import { Database, DATABASE, APP_ENV, CommonEnv } from '@khala/platform';

/**
 * Why listeners were woken:
 * - journal: a NOTIFY after journal rows committed (the live path: read the new rows, nothing more);
 * - topics_reset: a NOTIFY after `rebuild --reset` moved topic heads and floors without any row;
 * - poll: the fallback timer, which stands for either (a lost NOTIFY, or PGlite, which has none).
 */
export type WakeupReason = 'journal' | 'topics_reset' | 'poll';
/** `committed`: on a journal wake-up from a projector in this process, the rows its commit wrote. */
export type WakeupListener = (reason: WakeupReason, committed?: CommittedJournal) => void;

/**
 * One LISTEN per gateway process, fanned out to every session (notify, then pull). The poll
 * timer covers lost notifications and PGlite, which has no cross-connection NOTIFY.
 */
@Injectable()
export class JournalWakeups implements OnModuleInit, OnApplicationShutdown {
  private readonly listeners = new Set<WakeupListener>();
  private timer?: NodeJS.Timeout;
  private unlisten?: () => void;

  constructor(
    @Inject(DATABASE) private readonly db: Database,
    @Inject(APP_ENV) private readonly env: CommonEnv,
  ) {}

  async onModuleInit(): Promise<void> {
    this.unlisten = await this.db.listen(JOURNAL_CHANNEL, (payload, detail) =>
      payload === JOURNAL_TOPICS_RESET ? this.wakeAll('topics_reset') : this.wakeAll('journal', isCommittedJournal(detail) ? detail : undefined),
    );
    this.timer = setInterval(() => this.wakeAll('poll'), this.env.POLL_INTERVAL_MS);
    this.timer.unref();
  }

  onApplicationShutdown(): void {
    clearInterval(this.timer);
    this.unlisten?.();
  }

  register(listener: WakeupListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private wakeAll(reason: WakeupReason, committed?: CommittedJournal): void {
    for (const listener of this.listeners) listener(reason, committed);
  }
}

import { Inject, Injectable, OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import { APP_ENV } from '@khala/platform';
import type { GatewayEnv } from '../gateway.env';
import { EntityRef, JournalRepository } from './journal.repository';
import { JournalWakeups } from './journal-wakeups';

interface Waiter {
  entity: EntityRef;
  settle(owned: boolean): void;
}

/**
 * Who owns a run or worker, as the projections show it. A command the caller's org had
 * acknowledged may not be projected yet when its client subscribes (the embedded default lags by
 * hundreds of milliseconds), so an entity not shown yet is waited for, bounded by
 * GATEWAY_OWNERSHIP_WAIT_MS (docs/protocol/README.md §7). Waiting costs no poll of its own: the journal
 * wake-ups every feed already gets (NOTIFY after each projector commit, plus the fallback poll)
 * re-check all waiting entities of this process in one query. A foreign or nonexistent id waits
 * the same bound and then gets the same answer, so the refusal says nothing about which it was.
 */
@Injectable()
export class EntityOwnership implements OnModuleInit, OnApplicationShutdown {
  private readonly waiters = new Set<Waiter>();
  private checking = false;
  private checkAgain = false;
  private unregister?: () => void;

  constructor(
    private readonly journal: JournalRepository,
    private readonly wakeups: JournalWakeups,
    @Inject(APP_ENV) private readonly env: GatewayEnv,
  ) {}

  onModuleInit(): void {
    this.unregister = this.wakeups.register(() => this.recheck());
  }

  onApplicationShutdown(): void {
    this.unregister?.();
    for (const waiter of [...this.waiters]) waiter.settle(false);
  }

  /** What the projections show right now, one answer per entity. */
  check(entities: EntityRef[]): Promise<boolean[]> {
    return this.journal.ownedEntities(entities);
  }

  /** True as soon as the projections show the entity as the org's; false once the bound has passed. */
  waitFor(entity: EntityRef): Promise<boolean> {
    const waitMs = this.env.GATEWAY_OWNERSHIP_WAIT_MS;
    if (waitMs <= 0) return this.check([entity]).then(([owned]) => owned);
    return new Promise<boolean>((resolve) => {
      const waiter: Waiter = {
        entity,
        settle: (owned) => {
          if (!this.waiters.delete(waiter)) return;
          clearTimeout(timer);
          resolve(owned);
        },
      };
      this.waiters.add(waiter);
      const timer = setTimeout(() => waiter.settle(false), waitMs);
      timer.unref();
      // A projector commit between the caller's own check and this registration woke nobody.
      this.recheck();
    });
  }

  /** One query for every waiting entity; wake-ups during it run one more afterwards. */
  private recheck(): void {
    if (this.waiters.size === 0) return;
    if (this.checking) {
      this.checkAgain = true;
      return;
    }
    this.checking = true;
    const waiting = [...this.waiters];
    void this.journal
      .ownedEntities(waiting.map((waiter) => waiter.entity))
      .then(
        (owned) => owned.forEach((yes, i) => yes && waiting[i].settle(true)),
        // A failed check is retried at the next wake-up; the deadline still bounds the wait.
        () => undefined,
      )
      .finally(() => {
        this.checking = false;
        if (this.checkAgain) {
          this.checkAgain = false;
          this.recheck();
        }
      });
  }
}

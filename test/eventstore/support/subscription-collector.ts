import { RecordedEvent, Subscription, SubscriptionMessage } from '@khala/eventstore';

// Generous: a wait only fails a test that would otherwise hang; it asserts nothing about speed.
const WAIT_LIMIT_MS = 15_000;

/**
 * Drains a subscription in the background so a test can wait for what it expects to arrive and
 * then inspect everything that did, in delivery order.
 */
export class SubscriptionCollector {
  readonly messages: SubscriptionMessage[] = [];
  private failure?: unknown;
  private readonly waiters = new Set<() => void>();
  private readonly done: Promise<void>;

  constructor(private readonly subscription: Subscription) {
    this.done = this.drain();
  }

  events(): RecordedEvent[] {
    return this.messages.flatMap((message) => (message.kind === 'event' ? [message.event] : []));
  }

  eventIds(): string[] {
    return this.events().map((event) => event.id);
  }

  caughtUpCount(): number {
    return this.messages.filter((message) => message.kind === 'caughtUp').length;
  }

  async until(condition: () => boolean, what: string): Promise<void> {
    const deadline = Date.now() + WAIT_LIMIT_MS;
    while (!condition()) {
      if (this.failure) throw this.failure;
      const remaining = deadline - Date.now();
      if (remaining <= 0) {
        throw new Error(`subscription never delivered ${what}; got ${describe(this.messages)}`);
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, Math.min(remaining, 250));
        const waiters = this.waiters;
        function done() {
          clearTimeout(timer);
          waiters.delete(done);
          resolve();
        }
        this.waiters.add(done);
      });
    }
  }

  untilCaughtUp(): Promise<void> {
    return this.until(() => this.caughtUpCount() > 0, 'caughtUp');
  }

  untilEvents(ids: string[]): Promise<void> {
    return this.until(() => {
      const seen = new Set(this.eventIds());
      return ids.every((id) => seen.has(id));
    }, `events ${ids.join(', ')}`);
  }

  async close(): Promise<void> {
    await this.subscription.close();
    await this.done;
    if (this.failure) throw this.failure;
  }

  private async drain(): Promise<void> {
    try {
      for await (const message of this.subscription) {
        this.messages.push(message);
        for (const wake of [...this.waiters]) wake();
      }
    } catch (error) {
      this.failure = error;
      for (const wake of [...this.waiters]) wake();
    }
  }
}

function describe(messages: SubscriptionMessage[]): string {
  const summary = messages.map((message) =>
    message.kind === 'event' ? `${message.event.stream}@${message.event.revision}` : message.kind,
  );
  return summary.length > 40 ? `${summary.slice(0, 40).join(' ')} … (${summary.length})` : summary.join(' ') || 'nothing';
}

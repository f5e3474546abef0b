import { Inject, Injectable, OnApplicationShutdown } from '@nestjs/common';
import { APP_ENV, Database, DATABASE } from '@khala/platform';
import { JOURNAL_CHANNEL } from '@khala/projections';
import { RuntimeError } from '../../runtime.error';
import type { RuntimeEnv } from '../../runtime.env';

/** A read-model row and the stream revision its projector has folded up to. */
export interface RevisionedView {
  revision: number;
}

/** What a client should wait before retrying a read that found the read model behind. */
export const READ_MODEL_BEHIND_RETRY_MS = 1_000;

const FIRST_POLL_MS = 5;
const MAX_POLL_MS = 200;

/**
 * Read-your-writes for the read routes (`?min_revision=N`): re-reads a row until the projector has
 * folded revision N, within RUNTIME_READ_YOUR_WRITES_TIMEOUT_MS, then answers 503 read_model_behind.
 *
 * Woken by the projector's post-commit NOTIFY on the journal channel (one LISTEN connection,
 * opened on the first wait, so a deployment that never waits holds none) and, because a NOTIFY
 * is only a hint (lost while the listener reconnects, never sent across PGlite connections), by
 * a poll whose interval doubles from 5 ms to 200 ms.
 */
@Injectable()
export class ReadModelWait implements OnApplicationShutdown {
  private readonly waiters = new Set<() => void>();
  private listening?: Promise<void>;
  private unlisten?: () => void;

  constructor(
    @Inject(DATABASE) private readonly db: Database,
    @Inject(APP_ENV) private readonly env: RuntimeEnv,
  ) {}

  /**
   * The view once its revision is ≥ minRevision; undefined when there is nothing to wait for: no
   * row yet and the authority says the entity is not the caller's (`ownedByCaller`, consulted only
   * then, so another org's id and a nonexistent one get the same answer, and the same wait: none).
   */
  async readAt<V extends RevisionedView>(
    minRevision: number,
    read: () => Promise<V | undefined>,
    ownedByCaller: () => Promise<boolean>,
  ): Promise<V | undefined> {
    const first = await read();
    if (first && first.revision >= minRevision) return first;
    if (!first && !(await ownedByCaller())) return undefined;
    return this.until(minRevision, read, first);
  }

  private async until<V extends RevisionedView>(minRevision: number, read: () => Promise<V | undefined>, first: V | undefined): Promise<V> {
    this.listenOnce();
    const deadline = performance.now() + this.env.RUNTIME_READ_YOUR_WRITES_TIMEOUT_MS;
    let latest = first;
    for (let pollMs = FIRST_POLL_MS; ; pollMs = Math.min(pollMs * 2, MAX_POLL_MS)) {
      const left = deadline - performance.now();
      if (left <= 0) break;
      await this.wake(Math.min(pollMs, left));
      latest = await read();
      if (latest && latest.revision >= minRevision) return latest;
    }
    throw new RuntimeError(
      'read_model_behind',
      `the read model has not reached revision ${minRevision} yet; retry after ${READ_MODEL_BEHIND_RETRY_MS} ms`,
      { min_revision: minRevision, revision: latest?.revision ?? null, retry_after_ms: READ_MODEL_BEHIND_RETRY_MS },
      Math.ceil(READ_MODEL_BEHIND_RETRY_MS / 1000),
    );
  }

  /** Resolves on the next projector commit or after `ms`, whichever comes first. */
  private wake(ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.waiters.delete(done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.waiters.add(done);
    });
  }

  private listenOnce(): void {
    this.listening ??= this.db
      .listen(JOURNAL_CHANNEL, () => {
        for (const waiter of [...this.waiters]) waiter();
      })
      .then((unlisten) => {
        this.unlisten = unlisten;
      })
      // No LISTEN (the connection failed): the poll still answers; try again on the next wait.
      .catch(() => {
        this.listening = undefined;
      });
  }

  onApplicationShutdown(): void {
    this.unlisten?.();
  }
}

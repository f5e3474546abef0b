import { Inject, Injectable } from '@nestjs/common';
import { APP_ENV, Database, DATABASE } from '@khala/platform';
import { ControlEnv } from '../control.env';
import { ControlError } from '../control.error';

export interface StreamWrite {
  stream: string;
  revision: bigint;
}

/**
 * Read-your-writes for control: a command answers only once the projector has applied its own
 * events (control.stream_revisions ≥ the appended revision), so login right after signup, /api/me
 * and the revocations every app reads are all current when the response arrives. The projector
 * stays the only writer of read models, and the wait works whichever instance runs it.
 */
@Injectable()
export class ReadYourWrites {
  constructor(
    @Inject(DATABASE) private readonly db: Database,
    @Inject(APP_ENV) private readonly env: ControlEnv,
  ) {}

  async waitFor(writes: StreamWrite[]): Promise<void> {
    const pending = new Map(writes.filter((write) => write.revision >= 0n).map((write) => [write.stream, write.revision]));
    const deadline = Date.now() + this.env.CONTROL_READ_YOUR_WRITES_TIMEOUT_MS;
    let pause = 2;
    while (pending.size > 0) {
      const { rows } = await this.db.query<{ stream_id: string; revision: string }>(
        'SELECT stream_id, revision FROM control.stream_revisions WHERE stream_id = ANY($1::text[])',
        [[...pending.keys()]],
      );
      for (const row of rows) {
        if (BigInt(row.revision) >= (pending.get(row.stream_id) ?? 0n)) pending.delete(row.stream_id);
      }
      if (pending.size === 0) return;
      if (Date.now() >= deadline) {
        throw new ControlError('projection_lagging', 'the change is stored but not yet readable; retry shortly', {
          streams: [...pending.keys()],
        });
      }
      await new Promise((resolve) => setTimeout(resolve, pause));
      pause = Math.min(pause * 2, 25);
    }
  }
}

import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PostgresEventStore } from '@khala/eventstore';
import { Database } from '@khala/platform';
import { connectTestDatabase } from '../support/test-database';
import { event, isolatedCategories } from '../projections/support/projection-fixtures';
import { oa, oaJson } from './support/oa';

describe('oa events export (round trip)', () => {
  let db: Database;
  let store: PostgresEventStore;
  let dir: string;
  beforeAll(async () => {
    db = await connectTestDatabase({ max: 2 });
    store = new PostgresEventStore(db);
    dir = mkdtempSync(join(tmpdir(), 'oa-export-test-'));
  });
  afterAll(async () => {
    rmSync(dir, { recursive: true, force: true });
    await db.close();
  });

  const digest = (lines: string[]) => createHash('sha256').update(lines.join('\n')).digest('hex');

  it('ndjson of a category equals the store (count and hash over id/position), forwards and backwards; csv has one row per event', async () => {
    const categories = isolatedCategories();
    for (let s = 0; s < 5; s++) {
      await store.append(categories.runStream(`r${s}`), Array.from({ length: 7 }, (_, i) => event(i % 2 ? 'Odd' : 'Even', { i, text: 'comma, "quote"\nline' })), {
        expectedRevision: 'no_stream',
      });
    }
    const expected: string[] = [];
    for await (const e of store.readAll({ filter: { streamPrefixes: [`${categories.run}-`] } })) expected.push(`${e.id} ${e.position.commit}/${e.position.prepare}`);
    expect(expected).toHaveLength(35);

    const out = join(dir, 'events.ndjson');
    const exported = await oaJson(['events', 'export', '--all', '--category', categories.run, '--format', 'ndjson', '--out', out]);
    expect(exported).toMatchObject({ code: 0, body: { exported: 35 } });
    // Not a TTY: progress goes to stderr as JSON lines, the last one finished.
    const progress = exported.stderr.trim().split('\n').map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(progress[progress.length - 1]).toMatchObject({ progress: 'export', done: 35, finished: true });
    const lines = readFileSync(out, 'utf8').trim().split('\n').map((line) => JSON.parse(line) as { id: string; position: string });
    expect(digest(lines.map((l) => `${l.id} ${l.position}`))).toBe(digest(expected));

    const backwards = await oa(['events', 'read', '--all', '--category', categories.run, '--backwards', '--type', 'Odd']);
    expect(backwards.code).toBe(0);
    const odd = backwards.stdout.trim().split('\n').map((line) => JSON.parse(line) as { id: string; type: string; position: string });
    expect(odd.every((e) => e.type === 'Odd')).toBe(true);
    const oddInStoreOrder = (lines as { id: string; position: string; type?: string }[]).filter((l) => l.type === 'Odd');
    expect(odd.map((e) => `${e.id} ${e.position}`)).toEqual(oddInStoreOrder.map((l) => `${l.id} ${l.position}`).reverse());
    expect(odd).toHaveLength(15);

    const csv = join(dir, 'events.csv');
    expect((await oa(['events', 'export', '--all', '--category', categories.run, '--format', 'csv', '--out', csv])).code).toBe(0);
    const text = readFileSync(csv, 'utf8');
    // Header + 35 records; embedded newlines are quoted, so count record starts by position prefix.
    expect(text.startsWith('position,stream,revision,type,id,created,correlation_id,data\n')).toBe(true);
    expect(text.match(/^\d+\/\d+,/gm)).toHaveLength(35);
  });
});

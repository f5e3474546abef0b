import type { QueryResultRow } from 'pg';
import { Queryable } from '@khala/platform';

/** The SQL type a column's values are sent as: one array parameter of it per column. */
type SqlType = 'text' | 'bigint' | 'timestamptz' | 'jsonb';

/** Every field of a row, in the table's column order, with the type it is sent as. */
export type Columns<Row> = { readonly [K in keyof Row & string]-?: SqlType };

/**
 * A set-based statement over a batch of rows: the rows go as one array per column, unnested as
 * `u(<columns>)`, so a batch of any size is one round trip.
 */
export interface RowStatement<Row> {
  readonly text: string;
  values(rows: readonly Row[]): unknown[];
}

function unnested<Row>(columns: Columns<Row>): { names: (keyof Row & string)[]; source: string } {
  const names = Object.keys(columns) as (keyof Row & string)[];
  const parameters = names.map((name, index) => `$${index + 1}::${columns[name]}[]`).join(', ');
  return { names, source: `unnest(${parameters}) AS u(${names.join(', ')})` };
}

function valuesOf<Row>(columns: Columns<Row>, names: readonly (keyof Row & string)[]) {
  return (rows: readonly Row[]) =>
    names.map((name) => rows.map((row) => (columns[name] === 'jsonb' ? JSON.stringify(row[name]) : row[name])));
}

/**
 * `INSERT INTO <table> (<columns>) SELECT … FROM unnest(…) <tail>`: `tail` is the ON CONFLICT guard
 * (and RETURNING); `select` replaces a column's plain `u.<column>` where the stored type differs.
 */
export function insertRows<Row>(
  table: string,
  columns: Columns<Row>,
  tail: string,
  select: Partial<Record<keyof Row & string, string>> = {},
): RowStatement<Row> {
  const { names, source } = unnested(columns);
  const selected = names.map((name) => select[name] ?? `u.${name}`).join(', ');
  return {
    text: `INSERT INTO ${table} (${names.join(', ')}) SELECT ${selected} FROM ${source} ${tail}`,
    values: valuesOf(columns, names),
  };
}

/**
 * `UPDATE <table> t SET <every column but the key> = u.<column> FROM unnest(…) WHERE t.<key> = u.<key>`,
 * plus `guard` (a condition on t and u, such as an older stored revision).
 */
export function updateRows<Row>(table: string, key: keyof Row & string, columns: Columns<Row>, guard?: string): RowStatement<Row> {
  const { names, source } = unnested(columns);
  const set = names.filter((name) => name !== key).map((name) => `${name} = u.${name}`);
  return {
    text: `UPDATE ${table} t SET ${set.join(', ')} FROM ${source} WHERE t.${key} = u.${key}${guard ? ` AND ${guard}` : ''}`,
    values: valuesOf(columns, names),
  };
}

/** Runs `statement` over `rows`; no round trip when there are none. */
export async function runRows<Row, Result extends QueryResultRow = QueryResultRow>(
  tx: Queryable,
  statement: RowStatement<Row>,
  rows: readonly Row[],
): Promise<Result[]> {
  if (rows.length === 0) return [];
  return (await tx.query<Result>(statement.text, statement.values(rows))).rows;
}

/** The apps that run projectors; each keeps its projections' bookkeeping in its own schema (INV-04). */
export type ProjectionApp = 'runtime' | 'control';
export type CheckpointTable = `${ProjectionApp}.projection_checkpoints`;
export type FailuresTable = `${ProjectionApp}.projection_failures`;
/** Durable operator switches per projection (migration 0007). */
export type ControlsTable = `${ProjectionApp}.projection_controls`;
export const PROJECTION_APPS: readonly ProjectionApp[] = ['runtime', 'control'];

/** Where an app's projectors keep their checkpoints, parked failures and operator switches. */
export interface ProjectionTables {
  app: ProjectionApp;
  checkpointTable: CheckpointTable;
  failuresTable: FailuresTable;
  controlsTable: ControlsTable;
}

export function projectionTables(app: ProjectionApp): ProjectionTables {
  return {
    app,
    checkpointTable: `${app}.projection_checkpoints`,
    failuresTable: `${app}.projection_failures`,
    controlsTable: `${app}.projection_controls`,
  };
}

/** The tables of the app whose schema holds `checkpointTable`. */
export function tablesOfCheckpoint(checkpointTable: CheckpointTable): ProjectionTables {
  return projectionTables(checkpointTable.split('.')[0] as ProjectionApp);
}

/** The advisory-lock key of a projection's lease (the runner takes it; `oa projections status` looks for it). */
export function projectionLeaseKey(checkpointTable: CheckpointTable, projection: string): string {
  return `khala.projection:${checkpointTable}:${projection}`;
}

import { CheckpointTable, ControlsTable, FailuresTable, Projection } from '@khala/projections';
import { runtimeProjections } from '../../../runtime/src/projections/runtime-projections';
import { ControlProjection } from '../../../control/src/projections/control.projection';

/** A projection as operators see it: where its checkpoint, failures and pause flag live. */
export interface CatalogEntry {
  projection: Projection;
  app: 'runtime' | 'control';
  checkpointTable: CheckpointTable;
  failuresTable: FailuresTable;
  controlsTable: ControlsTable;
  /** The advisory-lock key the runner's lease uses (leader-lease.ts names it this way). */
  leaseKey: string;
}

export function projectionCatalog(): CatalogEntry[] {
  const runtime = runtimeProjections().map((projection) => entry(projection, 'runtime'));
  return [...runtime, entry(new ControlProjection(), 'control')];
}

export function findProjection(name: string): CatalogEntry {
  const found = projectionCatalog().find((entry) => entry.projection.name === name);
  if (!found) {
    throw new CliError(
      `unknown projection ${JSON.stringify(name)}; known: ${projectionCatalog()
        .map((e) => e.projection.name)
        .join(', ')}`,
    );
  }
  return found;
}

function entry(projection: Projection, app: 'runtime' | 'control'): CatalogEntry {
  const checkpointTable = `${app}.projection_checkpoints` as CheckpointTable;
  return {
    projection,
    app,
    checkpointTable,
    failuresTable: `${app}.projection_failures` as FailuresTable,
    controlsTable: `${app}.projection_controls` as ControlsTable,
    leaseKey: `khala.projection:${checkpointTable}:${projection.name}`,
  };
}

/** A usage or state error the CLI reports as one line and exit code 1 (no stack trace). */
export class CliError extends Error {}

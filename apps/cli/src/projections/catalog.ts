import {
  Projection,
  ProjectionApp,
  projectionLeaseKey,
  projectionTables,
  ProjectionTables,
  TableProjectionFactory,
} from '@khala/projections';
import { RUNTIME_PROJECTIONS } from '../../../runtime/src/projections/runtime-projections';
import { controlProjections } from '../../../control/src/projections/control-projections';

/** A projection as operators see it: where its checkpoint, failures and pause flag live. */
export interface CatalogEntry extends ProjectionTables {
  projection: Projection;
  /** The advisory-lock key the runner's lease uses. */
  leaseKey: string;
}

/** Every app's projection list, registered here once for the operator commands. */
export function projectionCatalog(): CatalogEntry[] {
  const runtime = RUNTIME_PROJECTIONS.map((build) => entry(build(), 'runtime'));
  return [...runtime, ...controlProjections().map((projection) => entry(projection, 'control'))];
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

/** A runtime projection whose read model is one table (rebuild, replay), built as asked. */
export function tableProjection(name: string): TableProjectionFactory {
  const found = RUNTIME_PROJECTIONS.find((build) => build().name === name);
  if (!found)
    throw new CliError(
      `projection ${JSON.stringify(name)} cannot be rebuilt or replayed here; table projections: ${RUNTIME_PROJECTIONS.map((build) => build().name).join(', ')}`,
    );
  return found;
}

function entry(projection: Projection, app: ProjectionApp): CatalogEntry {
  const tables = projectionTables(app);
  return { projection, ...tables, leaseKey: projectionLeaseKey(tables.checkpointTable, projection.name) };
}

/** A usage or state error the CLI reports as one line and exit code 1 (no stack trace). */
export class CliError extends Error {}

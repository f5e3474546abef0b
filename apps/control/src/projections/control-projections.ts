import { projectionTables, ProjectorOptions } from '@khala/projections';
import { ControlProjection } from './control.projection';

/**
 * Control's projections, the one list of them: the control process and the operator CLI take them
 * from here. Control has exactly one, which its process runs as `ControlProjectors.runner`.
 */
export function controlProjections(): [ControlProjection] {
  return [new ControlProjection()];
}

/** Commands wait for control's projector, so it commits as soon as the stream goes quiet. */
export const CONTROL_PROJECTOR_OPTIONS: ProjectorOptions = {
  checkpointTable: projectionTables('control').checkpointTable,
  flushAfterMs: 1,
};

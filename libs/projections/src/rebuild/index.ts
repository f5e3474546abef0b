export * from './table-projection';
export * from './apply-events';
export * from './rebuild';
export type { SwapResult } from './swap';

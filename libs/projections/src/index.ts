export * from './projection';
export * from './projector-runner';
export * from './checkpoint-store';
export * from './journal-writer';
export * from './watermark-allocator';
export * from './projections/run-summary';
export * from './projections/run-summaries.projection';

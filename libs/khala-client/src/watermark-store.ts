/**
 * Where a client keeps its last applied watermark per topic, so it resumes after a restart.
 * Implement it over localStorage, IndexedDB, SQLite, a file...; it may be sync or async.
 */
export interface WatermarkStore {
  get(topic: string): number | undefined | Promise<number | undefined>;
  set(topic: string, watermark: number): void | Promise<void>;
}

export class MemoryWatermarkStore implements WatermarkStore {
  private readonly watermarks = new Map<string, number>();

  get(topic: string): number | undefined {
    return this.watermarks.get(topic);
  }

  set(topic: string, watermark: number): void {
    this.watermarks.set(topic, watermark);
  }
}

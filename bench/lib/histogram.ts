/**
 * Latency recording for benchmarks: an HDR histogram (microsecond resolution, 3 significant
 * digits) so p99/p99.9 are exact to the bucket rather than estimated from a sample, and so many
 * millions of samples cost constant memory.
 */
import { build, Histogram } from 'hdr-histogram-js';

export interface LatencySummary {
  count: number;
  p50_ms: number;
  p90_ms: number;
  p99_ms: number;
  p999_ms: number;
  max_ms: number;
  mean_ms: number;
}

export class LatencyHistogram {
  private readonly histogram: Histogram = build({
    lowestDiscernibleValue: 1,
    highestTrackableValue: 600_000_000, // 10 minutes in µs: a stalled run still records
    numberOfSignificantValueDigits: 3,
    bitBucketSize: 'packed',
  });

  /** Records one latency in milliseconds (fractions kept to the microsecond). */
  recordMs(ms: number): void {
    this.histogram.recordValue(Math.max(1, Math.round(ms * 1000)));
  }

  /** Merges another histogram's samples, e.g. one sent back from a load-generator process. */
  add(other: LatencyHistogram): void {
    this.histogram.add(other.histogram);
  }

  get count(): number {
    return this.histogram.totalCount;
  }

  summary(): LatencySummary {
    const ms = (us: number) => Math.round(us) / 1000;
    return {
      count: this.histogram.totalCount,
      p50_ms: ms(this.histogram.getValueAtPercentile(50)),
      p90_ms: ms(this.histogram.getValueAtPercentile(90)),
      p99_ms: ms(this.histogram.getValueAtPercentile(99)),
      p999_ms: ms(this.histogram.getValueAtPercentile(99.9)),
      max_ms: ms(this.histogram.maxValue),
      mean_ms: ms(this.histogram.mean),
    };
  }

  /** Compact transferable form (base64 of the HDR encoding) for crossing a process boundary. */
  encode(): string {
    return encodeHistogram(this.histogram);
  }

  static decode(encoded: string): LatencyHistogram {
    const result = new LatencyHistogram();
    result.histogram.add(decodeHistogram(encoded));
    return result;
  }
}

// hdr-histogram-js exposes its base64 codec as free functions.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { encodeIntoCompressedBase64: encodeHistogram, decodeFromCompressedBase64: decodeHistogram } = require('hdr-histogram-js') as {
  encodeIntoCompressedBase64(h: Histogram): string;
  decodeFromCompressedBase64(s: string): Histogram;
};

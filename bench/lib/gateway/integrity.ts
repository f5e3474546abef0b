/**
 * Gap / duplicate / reorder counting for one subscriber of one dense sequence (watermarks, stream
 * sequences, update numbers). A skipped number is a gap until it arrives; if it arrives later it
 * becomes a reorder instead. Anything at or below the highest seen that was not skipped is a duplicate.
 */
import { Integrity } from '../scenario';

export class SequenceCheck {
  last: number;
  private readonly missing = new Set<number>();
  duplicates = 0;
  reorders = 0;

  constructor(startAfter = 0) {
    this.last = startAfter;
  }

  /** Records one arrival; true when it is new (advanced or filled a hole). */
  see(sequence: number): boolean {
    if (sequence === this.last + 1) {
      this.last = sequence;
      return true;
    }
    if (sequence > this.last) {
      for (let s = this.last + 1; s < sequence; s++) this.missing.add(s);
      this.last = sequence;
      return true;
    }
    if (this.missing.delete(sequence)) {
      this.reorders++;
      return true;
    }
    this.duplicates++;
    return false;
  }

  /** Counts against the expected final sequence: holes and anything never received are gaps. */
  integrity(expectedLast: number): Integrity {
    return { gaps: this.missing.size + Math.max(0, expectedLast - this.last), duplicates: this.duplicates, reorders: this.reorders };
  }
}

export function sumIntegrity(parts: Iterable<Integrity>): Integrity {
  const total: Integrity = { gaps: 0, duplicates: 0, reorders: 0 };
  for (const part of parts) {
    total.gaps += part.gaps;
    total.duplicates += part.duplicates;
    total.reorders += part.reorders;
  }
  return total;
}

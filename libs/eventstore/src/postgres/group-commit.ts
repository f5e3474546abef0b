/**
 * Group commit: work submitted while `maxInFlight` groups are already on their way is gathered and
 * sent as one group when a slot frees up. Nothing waits for a timer: with a slot free, a submission
 * goes at once (alone, so a lone command's latency is one round trip), and under load the groups
 * grow by themselves to what arrived during one round trip.
 *
 * `send` answers each member in order, or throws for the whole group.
 */
export class GroupCommit<Member, Result> {
  private waiting: { member: Member; resolve: (result: Result) => void; reject: (error: unknown) => void }[] = [];
  private inFlight = 0;

  constructor(
    private readonly send: (members: Member[]) => Promise<Result[]>,
    private readonly maxInFlight: number,
    private readonly maxGroupSize: number,
  ) {}

  submit(member: Member): Promise<Result> {
    return new Promise<Result>((resolve, reject) => {
      this.waiting.push({ member, resolve, reject });
      this.pump();
    });
  }

  private pump(): void {
    while (this.inFlight < this.maxInFlight && this.waiting.length > 0) {
      const group = this.waiting.splice(0, this.maxGroupSize);
      this.inFlight += 1;
      this.send(group.map((entry) => entry.member)).then(
        (results) => group.forEach((entry, index) => entry.resolve(results[index])),
        (error: unknown) => group.forEach((entry) => entry.reject(error)),
      ).finally(() => {
        this.inFlight -= 1;
        this.pump();
      });
    }
  }
}

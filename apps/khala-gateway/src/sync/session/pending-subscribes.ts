import type { PhoenixMessage, RefusedTopic, TopicWatermark } from '@khala/contracts';
import type { TopicSubscription } from './delivery';

/** A subscribe whose ok reply waits for the replay of its topics (and the verdict on its late entity topics). */
export interface PendingSubscribe {
  message: PhoenixMessage;
  topics: string[];
  requestId?: string;
  waiting: Map<string, TopicSubscription>;
  /** Entity topics whose ownership is still being waited for: the reply waits for their verdict. */
  deciding: number;
  refused: RefusedTopic[];
  /** Where each subscribed topic's retained stream starts (reported as retained_from). */
  retainedFrom: Map<string, number>;
}

export interface SubscribeReply {
  subscription_id: string;
  topics: string[];
  current_watermarks: TopicWatermark[];
  retained_from: TopicWatermark[];
  refused_topics?: RefusedTopic[];
  request_id?: string;
}

/**
 * The subscribes of one connection still waiting for their reply. No update beyond a topic's
 * replay target is sent before the reply, so a topic goes live (target Infinity) only when no
 * pending subscribe waits for it.
 */
export class PendingSubscribes {
  private readonly pending = new Set<PendingSubscribe>();

  add(pending: PendingSubscribe): void {
    this.pending.add(pending);
  }

  has(pending: PendingSubscribe): boolean {
    return this.pending.has(pending);
  }

  clear(): void {
    this.pending.clear();
  }

  /** The topic's subscription ended or was replaced: nothing waits for it any longer. */
  forget(topic: string): void {
    for (const pending of this.pending) pending.waiting.delete(topic);
  }

  /**
   * Takes every subscribe whose topics all reached their replay target (and all verdicts are in),
   * lets those topics go live, and returns the replies to send, in order.
   */
  complete(subs: ReadonlyMap<string, TopicSubscription>, subscriptionId: string): { message: PhoenixMessage; reply: SubscribeReply }[] {
    const replies: { message: PhoenixMessage; reply: SubscribeReply }[] = [];
    for (const pending of this.pending) {
      for (const [topic, sub] of pending.waiting) {
        if (subs.get(topic) !== sub) pending.waiting.delete(topic);
        else if (sub.cursor >= sub.target) pending.waiting.delete(topic);
      }
      if (pending.waiting.size > 0 || pending.deciding > 0) continue;
      this.pending.delete(pending);
      const subscribed = pending.topics.filter((topic) => subs.has(topic));
      const watermarks = subscribed.map((topic) => ({ topic, watermark: subs.get(topic)!.cursor }));
      const refused = new Set(pending.refused.map((entry) => entry.topic));
      for (const topic of pending.topics) {
        const sub = subs.get(topic);
        if (sub && ![...this.pending].some((other) => other.waiting.get(topic) === sub)) sub.target = Infinity;
      }
      replies.push({
        message: pending.message,
        reply: {
          subscription_id: subscriptionId,
          topics: pending.topics.filter((topic) => !refused.has(topic)),
          current_watermarks: watermarks,
          // Where each topic's retained stream starts: a client without a cursor takes retained_from - 1 as its base.
          retained_from: subscribed
            .filter((topic) => pending.retainedFrom.has(topic))
            .map((topic) => ({ topic, watermark: pending.retainedFrom.get(topic)! })),
          ...(pending.refused.length ? { refused_topics: pending.refused } : {}),
          ...(pending.requestId !== undefined ? { request_id: pending.requestId } : {}),
        },
      });
    }
    return replies;
  }
}

import { RunningSystem } from '../../../apps/embedded/src/embedded';
import { accessTokenFor, freshIdentity, TestIdentity } from '../../support/system';

export interface ApiResponse<T = Record<string, unknown>> {
  status: number;
  body: T;
  headers: Headers;
}

/** A caller of the runtime HTTP API with one identity (one org). */
export class RuntimeApi {
  private constructor(
    private readonly base: string,
    private readonly token: string,
    readonly identity: TestIdentity,
  ) {}

  static async as(system: RunningSystem, identity: TestIdentity = freshIdentity()): Promise<RuntimeApi> {
    return new RuntimeApi(system.urls.runtime, await accessTokenFor(system, identity), identity);
  }

  async request<T = Record<string, unknown>>(
    method: string,
    path: string,
    body?: unknown,
    headers: Record<string, string> = {},
  ): Promise<ApiResponse<T>> {
    const response = await fetch(`${this.base}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${this.token}`,
        ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
        ...headers,
      },
      body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
    });
    const text = await response.text();
    return { status: response.status, body: (text ? JSON.parse(text) : undefined) as T, headers: response.headers };
  }

  post<T = Record<string, unknown>>(path: string, body: unknown = {}, headers?: Record<string, string>) {
    return this.request<T>('POST', path, body, headers);
  }

  get<T = Record<string, unknown>>(path: string) {
    return this.request<T>('GET', path);
  }

  async createRun(body: unknown = {}, headers?: Record<string, string>): Promise<string> {
    const response = await this.post<{ run_id: string }>('/api/runtime/runs', body, headers);
    if (response.status !== 201) throw new Error(`create run: ${response.status} ${JSON.stringify(response.body)}`);
    return response.body.run_id;
  }

  /** Every event of the run, straight from its stream. */
  async runEvents(runId: string): Promise<StoredRunEvent[]> {
    const events: StoredRunEvent[] = [];
    for (let after = 0; ; ) {
      const page = await this.get<{ events: StoredRunEvent[]; next_after_seq: number }>(
        `/api/runtime/runs/${runId}/events?after_seq=${after}&limit=1000`,
      );
      if (page.status !== 200) throw new Error(`run events: ${page.status} ${JSON.stringify(page.body)}`);
      events.push(...page.body.events);
      if (page.body.events.length < 1000) return events;
      after = page.body.next_after_seq;
    }
  }
}

export interface StoredRunEvent {
  seq: number;
  event_id: string;
  type: string;
  data: Record<string, unknown> & { frame_id?: string };
  metadata: Record<string, unknown>;
}

export const frame = (frameId: string, type = 'run.text_delta', payload: Record<string, unknown> = {}) => ({ frame_id: frameId, type, payload });

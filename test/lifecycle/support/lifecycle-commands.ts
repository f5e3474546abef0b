import fc from 'fast-check';
import { randomUUID } from 'node:crypto';
import {
  applyCancel,
  applyFrames,
  LifecycleModel,
  MAX_CLIENTS_PER_RUN,
  pickFrom,
  pickRun,
  planCancel,
  planFrames,
} from './lifecycle-model';
import { LifecycleWorld } from './lifecycle-world';
import { ObservedClient } from './observed-client';

type Command = fc.AsyncCommand<LifecycleModel, LifecycleWorld>;

const ORGS = 2;

/** Creates a run in the model once the API acknowledged it (201). */
async function createRun(model: LifecycleModel, world: LifecycleWorld, org: number): Promise<string> {
  const response = await world.orgs[org].api.post<{ run_id: string; status: string }>('/api/runtime/runs', { thread_id: `thread-${org}` });
  if (response.status !== 201) throw new Error(`create run answered ${response.status} ${JSON.stringify(response.body)}; expected 201`);
  model.orgs[org].runs.push({ runId: response.body.run_id, status: 'created', events: 1, frames: 0, frameIds: [] });
  return response.body.run_id;
}

/** A new device of `org`: an empty watermark store, the given topics. */
async function connectNewClient(model: LifecycleModel, world: LifecycleWorld, org: number, topics: string[]): Promise<ObservedClient> {
  const id = model.nextClientId++;
  const orgRuns = model.orgs[org].runs;
  const worldOrg = world.orgs[org];
  const client = new ObservedClient(id, org, { orgId: worldOrg.identity.orgId, ownsRun: (runId) => orgRuns.some((run) => run.runId === runId) }, topics);
  world.clients.push(client);
  await connect(world, client);
  model.connected.add(id);
  return client;
}

function connect(world: LifecycleWorld, client: ObservedClient): Promise<void> {
  const org = world.orgs[client.org];
  return client.connect({
    url: world.socketUrl(),
    token: () => world.syncToken(org, client.id),
    retainedFrom: (topics) => world.retainedFrom(org.identity.orgId, topics),
  });
}

function classTopics(summaries: boolean, events: boolean): string[] {
  return [...(summaries ? ['runtime.run_summaries'] : []), ...(events ? ['runtime.run_events'] : [])];
}

export class CreateRun implements Command {
  constructor(readonly org: number) {}
  check = () => true;
  async run(model: LifecycleModel, world: LifecycleWorld): Promise<void> {
    world.count('CreateRun');
    await createRun(model, world, this.org);
    await world.settle(model);
  }
  toString = () => `CreateRun(org ${this.org})`;
}

/** POST /runs and subscribe to the new run's own topic at once: the projection has not caught up yet. */
export class CreateRunThenSubscribe implements Command {
  constructor(
    readonly org: number,
    readonly withClassTopics: boolean,
  ) {}
  check = (model: Readonly<LifecycleModel>) => model.connected.size + model.offline.size < MAX_CLIENTS_PER_RUN;
  async run(model: LifecycleModel, world: LifecycleWorld): Promise<void> {
    world.count('CreateRunThenSubscribe');
    const runId = await createRun(model, world, this.org);
    await connectNewClient(model, world, this.org, [`run:${runId}:events`, ...classTopics(this.withClassTopics, this.withClassTopics)]);
    await world.settle(model);
  }
  toString = () => `CreateRunThenSubscribe(org ${this.org}${this.withClassTopics ? ', + class topics' : ''})`;
}

export class AppendFrames implements Command {
  constructor(
    readonly org: number,
    readonly runPick: number,
    readonly count: number,
    readonly finish: boolean,
  ) {}
  check = (model: Readonly<LifecycleModel>) => model.orgs[this.org].runs.length > 0;
  async run(model: LifecycleModel, world: LifecycleWorld): Promise<void> {
    world.count('AppendFrames');
    const run = pickRun(model.orgs[this.org], this.runPick)!;
    const plan = planFrames(run, this.count, this.finish, randomUUID().slice(0, 8));
    const response = await world.orgs[this.org].api.post<{ code?: string; accepted?: number }>(`/api/runtime/runs/${run.runId}/frames`, { frames: plan.frames });
    const expected = plan.expect;
    if (response.status !== expected.status || (expected.status === 409 && response.body.code !== expected.code) || (expected.status === 202 && response.body.accepted !== plan.frames.length)) {
      throw new Error(`frames on ${run.runId} (${run.status}) answered ${response.status} ${JSON.stringify(response.body)}; expected ${JSON.stringify(expected)}`);
    }
    applyFrames(run, plan);
    await world.settle(model);
  }
  toString = () => `AppendFrames(org ${this.org}, run #${this.runPick}, ${this.count}${this.finish ? ', finish' : ''})`;
}

export class CancelRun implements Command {
  constructor(
    readonly org: number,
    readonly runPick: number,
  ) {}
  check = (model: Readonly<LifecycleModel>) => model.orgs[this.org].runs.length > 0;
  async run(model: LifecycleModel, world: LifecycleWorld): Promise<void> {
    world.count('CancelRun');
    const run = pickRun(model.orgs[this.org], this.runPick)!;
    const expected = planCancel(run);
    const response = await world.orgs[this.org].api.post<{ code?: string; status?: string }>(`/api/runtime/runs/${run.runId}/cancel`, {});
    const matches =
      response.status === expected.status &&
      (expected.status === 202 ? response.body.status === expected.runStatus : response.body.code === expected.code);
    if (!matches) throw new Error(`cancel of ${run.runId} (${run.status}) answered ${response.status} ${JSON.stringify(response.body)}; expected ${JSON.stringify(expected)}`);
    applyCancel(run, expected);
    await world.settle(model);
  }
  toString = () => `CancelRun(org ${this.org}, run #${this.runPick})`;
}

/** A new device (empty watermark store) subscribing to some of its org's topics. */
export class ConnectNewClient implements Command {
  constructor(
    readonly org: number,
    readonly summaries: boolean,
    readonly events: boolean,
    /** Also an entity topic: the org's run at this pick (only when the org has runs). */
    readonly entityRun: number | null,
  ) {}
  check = (model: Readonly<LifecycleModel>) => model.connected.size + model.offline.size < MAX_CLIENTS_PER_RUN;
  async run(model: LifecycleModel, world: LifecycleWorld): Promise<void> {
    world.count('ConnectNewClient');
    await connectNewClient(model, world, this.org, this.topics(model));
    await world.settle(model);
  }
  private topics(model: LifecycleModel): string[] {
    const run = this.entityRun === null ? undefined : pickRun(model.orgs[this.org], this.entityRun);
    const topics = [...classTopics(this.summaries, this.events), ...(run ? [`run:${run.runId}:events`] : [])];
    return topics.length ? topics : ['runtime.run_summaries'];
  }
  toString = () =>
    `ConnectNewClient(org ${this.org}: ${[this.summaries && 'summaries', this.events && 'run_events', this.entityRun !== null && `run #${this.entityRun} events`].filter(Boolean).join(', ') || 'summaries'})`;
}

export class DisconnectClient implements Command {
  constructor(readonly client: number) {}
  check = (model: Readonly<LifecycleModel>) => model.connected.size > 0;
  async run(model: LifecycleModel, world: LifecycleWorld): Promise<void> {
    world.count('DisconnectClient');
    const id = pickFrom(model.connected, this.client)!;
    world.clients[id].disconnect();
    model.connected.delete(id);
    model.offline.add(id);
    await world.settle(model);
  }
  toString = () => `DisconnectClient(#${this.client})`;
}

/** An offline device comes back with its watermark store (and the documents it held). */
export class ResumeClient implements Command {
  constructor(readonly client: number) {}
  check = (model: Readonly<LifecycleModel>) => model.offline.size > 0;
  async run(model: LifecycleModel, world: LifecycleWorld): Promise<void> {
    world.count('ResumeClient');
    const id = pickFrom(model.offline, this.client)!;
    await resume(model, world, id);
    await world.settle(model);
  }
  toString = () => `ResumeClient(#${this.client})`;
}

async function resume(model: LifecycleModel, world: LifecycleWorld, id: number): Promise<void> {
  await connect(world, world.clients[id]);
  model.offline.delete(id);
  model.connected.add(id);
}

/** Ages the oldest part of every journal partition of the run's orgs past retention, then one retention pass. */
export class AgeAndRunRetention implements Command {
  constructor(readonly percent: number) {}
  check = () => true;
  async run(model: LifecycleModel, world: LifecycleWorld): Promise<void> {
    world.count('AgeAndRunRetention');
    await world.ageAndRunRetention(this.percent / 100);
    await world.settle(model);
  }
  toString = () => `AgeAndRunRetention(${this.percent} % of each partition)`;
}

/** A projection bug journals a wrong summary of one run (repaired only by a run_summaries rebuild). */
export class CorruptSummary implements Command {
  constructor(
    readonly org: number,
    readonly runPick: number,
  ) {}
  check = (model: Readonly<LifecycleModel>) => model.orgs[this.org].runs.length > 0;
  async run(model: LifecycleModel, world: LifecycleWorld): Promise<void> {
    world.count('CorruptSummary');
    const run = pickRun(model.orgs[this.org], this.runPick)!;
    await world.corruptSummary(world.orgs[this.org].identity.orgId, run.runId);
    model.corrupted.add(run.runId);
    await world.settle(model);
  }
  toString = () => `CorruptSummary(org ${this.org}, run #${this.runPick})`;
}

export class Rebuild implements Command {
  constructor(
    readonly projection: 'run_summaries' | 'run_events',
    readonly reset: boolean,
  ) {}
  check = () => true;
  async run(model: LifecycleModel, world: LifecycleWorld): Promise<void> {
    world.count(this.reset ? 'RebuildReset' : 'Rebuild');
    await world.rebuild(this.projection, this.reset);
    if (this.projection === 'run_summaries') model.corrupted.clear();
    await world.settle(model);
  }
  toString = () => `Rebuild(${this.projection}${this.reset ? ' --reset' : ''})`;
}

/**
 * What opens every model run: a run and a connected device in each org, so the random commands
 * that need a run or a client (most of them) apply from the first step.
 */
export async function openingSteps(model: LifecycleModel, world: LifecycleWorld): Promise<void> {
  for (let org = 0; org < ORGS; org++) {
    world.count('opening: CreateRun');
    await createRun(model, world, org);
    world.count('opening: ConnectNewClient');
    await connectNewClient(model, world, org, ['runtime.run_summaries', 'runtime.run_events']);
  }
  await world.settle(model);
}

/**
 * What closes every model run: the whole journal of the run's orgs ages past retention, every
 * offline device comes back, and a brand-new device per org subscribes to both class topics. So
 * each run ends with the two day-2 cases (offline longer than retention, new device after retention).
 */
export async function closingSteps(model: LifecycleModel, world: LifecycleWorld): Promise<void> {
  world.count('closing: AgeAndRunRetention(100 %)');
  await world.ageAndRunRetention(1);
  await world.settle(model);
  for (const id of [...model.offline].sort((a, b) => a - b)) {
    world.count('closing: ResumeClient');
    await resume(model, world, id);
  }
  for (let org = 0; org < ORGS; org++) {
    world.count('closing: ConnectNewClient');
    await connectNewClient(model, world, org, ['runtime.run_summaries', 'runtime.run_events']);
  }
  await world.settle(model);
}

const org = fc.integer({ min: 0, max: ORGS - 1 });
const pick = fc.nat({ max: 7 });

/** The command mix; repeated entries weigh the commands that build up state. */
export const lifecycleCommands: fc.Arbitrary<Command>[] = [
  org.map((o) => new CreateRun(o)),
  fc.tuple(org, fc.boolean()).map(([o, withClass]) => new CreateRunThenSubscribe(o, withClass)),
  fc.tuple(org, pick, fc.integer({ min: 1, max: 3 }), fc.boolean()).map(([o, r, n, finish]) => new AppendFrames(o, r, n, finish)),
  fc.tuple(org, pick, fc.integer({ min: 1, max: 3 }), fc.constant(false)).map(([o, r, n, finish]) => new AppendFrames(o, r, n, finish)),
  fc.tuple(org, pick).map(([o, r]) => new CancelRun(o, r)),
  fc.tuple(org, fc.boolean(), fc.boolean(), fc.option(pick, { nil: null })).map(([o, s, e, r]) => new ConnectNewClient(o, s, e, r)),
  pick.map((c) => new DisconnectClient(c)),
  pick.map((c) => new ResumeClient(c)),
  pick.map((c) => new ResumeClient(c)),
  fc.integer({ min: 25, max: 100 }).map((percent) => new AgeAndRunRetention(percent)),
  fc.tuple(fc.constantFrom('run_summaries' as const, 'run_events' as const), fc.boolean()).map(([projection, reset]) => new Rebuild(projection, reset)),
  fc.tuple(org, pick).map(([o, r]) => new CorruptSummary(o, r)),
];

export const ORG_COUNT = ORGS;

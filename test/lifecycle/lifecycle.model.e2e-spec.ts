import fc from 'fast-check';
import { isPgliteRun } from '../support/test-database';
import { closingSteps, lifecycleCommands, openingSteps, ORG_COUNT } from './support/lifecycle-commands';
import { emptyModel } from './support/lifecycle-model';
import { LifecycleWorld, SETTLE_DEADLINE_MS } from './support/lifecycle-world';

/** Model runs: CI-sized by default; `MODEL_RUNS=100` (and `MODEL_COMMANDS=40`) for a long run. */
const RUNS = Number(process.env.MODEL_RUNS ?? (isPgliteRun() ? 10 : 20));
/** Commands per run at most (between the opening and closing steps every run has). */
const COMMANDS = Number(process.env.MODEL_COMMANDS ?? 15);
/**
 * Replays a failure as printed: `MODEL_SEED=<seed>`, and for the shrunk case `MODEL_PATH=<path>`
 * with `MODEL_REPLAY=<replayPath>` (the comment after the counterexample's commands).
 */
const SEED = process.env.MODEL_SEED ? Number(process.env.MODEL_SEED) : undefined;
const PATH = process.env.MODEL_PATH;
const REPLAY = process.env.MODEL_REPLAY;
/**
 * Jest's bound. A passing run takes about a second per model run on a quiet machine; the bound is
 * generous for a loaded one and leaves a failure time to shrink (each failing attempt waits up to
 * the settle deadline).
 */
const TIMEOUT_MS = Math.max(240_000, RUNS * 15_000);

/**
 * The lifecycle model test (fast-check model-based) on the whole system in-process: real HTTP
 * commands, real KhalaClients over real WebSockets, real retention passes and projection rebuilds.
 * Random sequences of: create runs (and subscribe to a run the instant it is created), append
 * frames, cancel, new devices, devices going offline and coming back, retention passes that move
 * the floor past offline devices' cursors (retention and replay budgets shortened by configuration),
 * a projection bug that journals a wrong run summary, `rebuild` and `rebuild --reset`. After every
 * step, once the read model holds every acknowledged command:
 *
 * - every connected client goes live at the head of each topic, holding exactly the read model
 *   (snapshot topics) or read-model documents and every one journaled after its base that it was
 *   not told it skips (event topics): every acknowledged command is delivered;
 * - the watermarks each client applies are dense from its base, which moves only at documented
 *   points (a new device's retained start, its stored cursor, a snapshot, a reset's head);
 * - no client sends more than a handful of sync:subscribe per topic per step;
 * - no client ever sees another org's document (two orgs act side by side in every run).
 *
 * Every run ends by aging its orgs' whole journal past retention, bringing every offline device
 * back and connecting a new device per org. Rebuilds swap whole read-model tables, so the file runs
 * on a database of its own. On PGlite the same model runs with fewer runs (one transaction at a
 * time serves everything, so each step is slower).
 */
describe('lifecycle model: devices, retention, rebuilds', () => {
  let world: LifecycleWorld;

  beforeAll(async () => {
    world = await LifecycleWorld.start();
  }, 120_000);

  afterAll(async () => {
    await world?.stop();
  }, 60_000);

  it(
    'every client converges to the read model with dense watermarks and bounded subscribes; no cross-org data; every acknowledged command delivered',
    async () => {
      const property = fc.asyncProperty(fc.commands(lifecycleCommands, { maxCommands: COMMANDS, size: 'max', ...(REPLAY !== undefined ? { replayPath: REPLAY } : {}) }), async (commands) => {
        await world.beginRun(ORG_COUNT);
        const model = emptyModel(ORG_COUNT);
        try {
          await openingSteps(model, world);
          await fc.asyncModelRun(() => ({ model, real: world }), commands);
          await closingSteps(model, world);
        } finally {
          world.stopClients();
        }
      });
      const started = Date.now();
      try {
        await fc.assert(property, {
          numRuns: RUNS,
          ...(SEED !== undefined ? { seed: SEED } : {}),
          ...(PATH !== undefined ? { path: PATH } : {}),
          interruptAfterTimeLimit: TIMEOUT_MS - 30_000,
          markInterruptAsFailure: true,
        });
      } catch (error) {
        console.log(`lifecycle model failed; replay with MODEL_SEED, MODEL_PATH and MODEL_REPLAY (replayPath) from the report below\n${(error as Error).message}`);
        throw error;
      } finally {
        const f = world.figures;
        console.log(
          [
            `lifecycle model (${isPgliteRun() ? 'PGlite' : 'Postgres'}, settle deadline ${SETTLE_DEADLINE_MS} ms): ${f.runs} runs (MODEL_RUNS=${RUNS}, ≤ ${COMMANDS} commands each) in ${((Date.now() - started) / 1000).toFixed(1)} s`,
            `commands: ${Object.entries(f.commands).map(([name, n]) => `${name} ${n}`).join(', ')}`,
            `clients ${f.clients} (connects ${f.connects}), sync:subscribe ${f.subscribes}, updates applied ${f.updatesApplied}, snapshot bootstraps ${f.snapshotBootstraps}, resyncs ${f.resyncs}`,
            `retention passes ${f.retentionPasses} (journal rows removed ${f.journalRowsRetained}), rebuilds ${f.rebuilds} (of which --reset ${f.resets}), invariant checks ${f.checks}`,
          ].join('\n'),
        );
      }
    },
    TIMEOUT_MS,
  );
});

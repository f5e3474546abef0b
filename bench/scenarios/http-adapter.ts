/**
 * `http-adapter`: what Nest's HTTP adapter costs on the command path. Runtime's frames route
 * (global validation pipe, the real AppendRunFramesDto, a bearer-header guard, a JSON answer; no
 * store) served by Nest on express and on Fastify in turn, each loaded by wrk with the `append`
 * frame workload (32 in flight, one thread pinned to the load generator's core, the app pinned to
 * the server's). Reports requests/s, latency and the app's CPU per request (/proc).
 *
 *   npm run bench -- http-adapter [--seconds 10] [--connections 32]
 *
 * Skipped (with a note) under --smoke or where wrk is not installed.
 */
import { machineDescription } from '../lib/report';
import { Measurement, NO_VIOLATIONS, Ratio, Scenario, ScenarioOptions, ScenarioResult } from '../lib/scenario';
import { pinning, processCpuMs, spawnJsonChild } from '../lib/store/child-process';
import { FRAMES_SCRIPT, parseWrk, runWrk, wrkMissing } from '../lib/wrk';

const ADAPTERS = ['express', 'fastify'] as const;

const scenario: Scenario = {
  name: 'http-adapter',
  description: 'the frames route on Nest + express vs Nest + Fastify, no store behind it (wrk)',
  options: { seconds: { type: 'string' }, connections: { type: 'string' } },
  async run({ smoke, args }: ScenarioOptions): Promise<ScenarioResult> {
    const skipped = smoke ? 'skipped under --smoke (a comparison, not a figure CI needs)' : wrkMissing() ? 'skipped: wrk is not installed (apt-get install -y wrk)' : undefined;
    if (skipped) return { scenario: 'http-adapter', measurements: [], ratios: [], notes: [skipped] };
    const seconds = args.amount('seconds') ?? 10;
    const connections = args.amount('connections') ?? 32;
    const pins = pinning();
    const runs = Array.from({ length: connections }, (_, index) => `run_bench${index}`);
    const measurements: Measurement[] = [];
    for (const adapter of ADAPTERS) {
      const app = spawnJsonChild('bench/lib/http-adapter/frames-app.ts', { cpu: pins.server, args: [adapter] });
      try {
        const { url } = await app.next<{ url: string }>();
        const wrk = (label: string, duration: number) => runWrk({ url, connections, seconds: duration, script: FRAMES_SCRIPT, scriptArgs: [label, 'Bearer-token', ...runs], cpu: pins.load });
        wrk('warm', 2);
        const cpuBefore = processCpuMs(app.process.pid);
        const report = parseWrk(wrk('measured', seconds));
        const cpuAfter = processCpuMs(app.process.pid);
        const cpuPerRequest = cpuBefore !== undefined && cpuAfter !== undefined && report.requests > 0 ? ((cpuAfter - cpuBefore) * 1000) / report.requests : NaN;
        measurements.push({
          system: `nest-${adapter}`,
          variant: `connections=${connections}`,
          figures: { requests_per_s: report.requests_per_s, p50_ms: report.p50_ms, p99_ms: report.p99_ms, errors: report.errors, app_cpu_us_per_request: Math.round(cpuPerRequest) },
          integrity: NO_VIOLATIONS,
        });
        process.stderr.write(`  ${adapter}: ${report.requests_per_s.toFixed(0)} requests/s, p50 ${report.p50_ms} ms, ${cpuPerRequest.toFixed(0)} µs CPU/request\n`);
      } finally {
        await app.stop();
      }
    }
    const perSecond = (adapter: string) => measurements.find((m) => m.system === `nest-${adapter}`)!.figures.requests_per_s;
    const ratios: Ratio[] = [{ label: 'requests/s, Nest + Fastify ÷ Nest + express (same route, no store)', value: perSecond('fastify') / perSecond('express'), target: 'a figure', met: true }];
    return {
      scenario: 'http-adapter',
      machine: machineDescription(),
      measurements,
      ratios,
      notes: [`wrk -t1 -c${connections} -d${seconds}s after a 2 s warm-up per adapter; ${pins.note}`, 'the guard only checks the header is there: token verification, idempotency and the store are not in this route'],
    };
  },
};

export default scenario;

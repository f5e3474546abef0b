import { createMetricsRegistry } from '@khala/platform';

/** The quantile values of khala_event_loop_delay_seconds as the registry renders them. */
async function delaySeconds(registry: ReturnType<typeof createMetricsRegistry>): Promise<Map<string, number>> {
  const metric = await registry.getSingleMetric('khala_event_loop_delay_seconds')!.get();
  return new Map(metric.values.map((value) => [String(value.labels.quantile), value.value]));
}

describe('event-loop delay metric', () => {
  it('every app registry exposes khala_event_loop_delay_seconds, and a synchronous stall shows in its max', async () => {
    const registry = createMetricsRegistry('test-app');
    expect(await registry.metrics()).toContain('khala_event_loop_delay_seconds{quantile="0.99",app="test-app"}');
    // Let the monitor's timer run, then hold the loop for 200 ms (synchronous work, as a stall is).
    await new Promise((resolve) => setTimeout(resolve, 50));
    const until = Date.now() + 200;
    while (Date.now() < until) {
      /* stall */
    }
    let max = 0;
    const deadline = Date.now() + 10_000;
    while (max < 0.1 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 20));
      max = (await delaySeconds(registry)).get('1') ?? 0;
    }
    expect(max).toBeGreaterThanOrEqual(0.1);
    const quantiles = await delaySeconds(registry);
    expect([...quantiles.keys()].sort()).toEqual(['0.5', '0.9', '0.99', '1']);
    expect(quantiles.get('0.5')!).toBeLessThanOrEqual(quantiles.get('1')!);
  });
});

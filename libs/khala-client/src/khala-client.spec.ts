import { ApplyResult, classifyUpdate } from './apply';
import { backoffDelay } from './backoff';
import { reconnectAfterMs } from './going-away';
import { ResubscribeBudget } from './resubscribe-budget';

describe('classifyUpdate (INV-07)', () => {
  it('given last applied 5: 6 advances, 5 and 3 are duplicates, 8 is out of order', () => {
    expect(classifyUpdate(5, 6)).toBe(ApplyResult.Advanced);
    expect(classifyUpdate(5, 5)).toBe(ApplyResult.Duplicate);
    expect(classifyUpdate(5, 3)).toBe(ApplyResult.Duplicate);
    expect(classifyUpdate(5, 8)).toBe(ApplyResult.OutOfOrder);
  });
});

describe('backoffDelay', () => {
  it('is full jitter under an exponential ceiling capped at maxMs', () => {
    const options = { initialMs: 100, maxMs: 1000 };
    expect(backoffDelay(0, options, () => 0.999)).toBe(99);
    expect(backoffDelay(3, options, () => 0.5)).toBe(400);
    expect(backoffDelay(20, options, () => 0.999)).toBe(999);
    expect(backoffDelay(5, options, () => 0)).toBe(0);
  });
});

describe('ResubscribeBudget', () => {
  it('allows max resubscribes per topic within the window, then refuses until old ones leave the window', () => {
    let now = 0;
    const budget = new ResubscribeBudget({ max: 3, windowMs: 1000 }, () => now);
    expect([budget.take('a'), budget.take('a'), budget.take('a'), budget.take('a')]).toEqual([true, true, true, false]);
    expect(budget.take('b')).toBe(true);
    now = 999;
    expect(budget.take('a')).toBe(false);
    now = 1000;
    expect([budget.take('a'), budget.take('a'), budget.take('a'), budget.take('a')]).toEqual([true, true, true, false]);
    budget.clear();
    expect(budget.take('a')).toBe(true);
  });
});

describe('reconnectAfterMs (close 1001)', () => {
  it('reads the hint of the reason, means now without one, and caps what a server may ask', () => {
    expect(reconnectAfterMs('server shutting down; reconnect_after_ms=0')).toBe(0);
    expect(reconnectAfterMs('reconnect_after_ms=250')).toBe(250);
    expect(reconnectAfterMs('going away')).toBe(0);
    expect(reconnectAfterMs('reconnect_after_ms=86400000')).toBe(60_000);
  });
});

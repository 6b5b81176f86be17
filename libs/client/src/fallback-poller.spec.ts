import { FallbackPoller } from './fallback-poller';

describe('FallbackPoller', () => {
  beforeEach(() => jest.useFakeTimers());
  afterEach(() => jest.useRealTimers());

  function setup(targets: string[]) {
    const polled: string[] = [];
    const poller = new FallbackPoller({ intervalMs: 1_000, targets: () => targets, poll: async (id) => void polled.push(id) });
    return { poller, polled, targets };
  }

  const tick = async (ms: number) => {
    await jest.advanceTimersByTimeAsync(ms);
  };

  it('polls nothing while there is nothing unjoined to ask about', async () => {
    const { poller, polled } = setup([]);
    poller.update();
    await tick(5_000);
    expect(polled).toEqual([]);
    expect(poller.timers).toBe(0);
  });

  it('polls the targets once per interval, and stops when there are none left (the thread is joined)', async () => {
    const { poller, polled, targets } = setup(['s1', 's2']);
    poller.update();
    await tick(999);
    expect(polled).toEqual([]);
    await tick(1);
    expect(polled).toEqual(['s1', 's2']);
    await tick(2_000);
    expect(polled).toHaveLength(6);
    targets.length = 0;
    poller.update();
    expect(poller.timers).toBe(0);
    await tick(5_000);
    expect(polled).toHaveLength(6);
  });

  it('keeps no timer when there is nothing to ask about, and starts when a stream id arrives', async () => {
    const { poller, polled, targets } = setup([]);
    poller.update();
    expect(poller.timers).toBe(0);
    targets.push('s1');
    poller.update();
    expect(poller.timers).toBe(1);
    await tick(1_000);
    expect(polled).toEqual(['s1']);
    targets.length = 0;
    await tick(1_000);
    expect(poller.timers).toBe(0);
  });

  it('a slow poll delays the next round instead of overlapping it', async () => {
    let inFlight = 0;
    let most = 0;
    const poller = new FallbackPoller({
      intervalMs: 100,
      targets: () => ['s1'],
      poll: () => {
        most = Math.max(most, ++inFlight);
        return new Promise<void>((r) => setTimeout(() => (inFlight--, r()), 350));
      },
    });
    poller.update();
    await tick(3_000);
    expect(most).toBe(1);
    // Rounds start at 100, 550, 1000 … ms: 100 ms after the previous 350 ms poll ended.
    expect(poller.pollRounds).toBe(7);
    poller.close();
    expect(poller.timers).toBe(0);
  });
});

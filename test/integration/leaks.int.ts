import { Redis } from 'ioredis';
import { redisKeys } from '@bgs/server';
import { testEnv } from '../support/env';
import { eventually, httpClient, streamEnded } from '../support/http';
import { closeThread, connectSocket, openThread, type TestSocket } from '../support/sockets';
import { TestSystem } from '../support/system';

/** docs/protocol.md#rooms and #presence: nothing per thread outlives the thread being left. */
describe('no leaks across thread switches and stream ends', () => {
  let system: TestSystem;
  let redis: Redis;
  let socket: TestSocket;

  beforeAll(async () => {
    system = await TestSystem.start({ env: { FRAME_MS: '20', LIVE_STREAM_TTL_S: '2' } });
    redis = new Redis(testEnv().redisUrl);
  });
  afterAll(async () => {
    socket?.disconnect();
    redis.disconnect();
    await system.stop();
  });

  async function gauges() {
    const text = (await httpClient(system.url()).get('/metrics')).body as string;
    const read = (name: string) => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1] ?? NaN);
    return {
      rooms: read('bgs_socket_rooms'),
      listeners: read('bgs_socket_event_listeners'),
      presence: read('bgs_presence_entries'),
      presenceKeys: (await redis.keys(`${system.prefix}:thread:*:presence`)).length,
    };
  }

  it('opening and closing threads 1,000 times leaves rooms, listeners and presence keys where they started', async () => {
    const api = await system.client('switcher');
    const threads: string[] = [];
    for (let i = 0; i < 10; i++) threads.push((await api.post('/api/threads', { title: `T${i}` })).body.id);
    socket = await connectSocket(system.url(), api.token);
    const before = await gauges();
    expect(before.presenceKeys).toBe(0);

    let peak = before;
    for (let i = 0; i < 1_000; i++) {
      const thread = threads[i % threads.length];
      expect((await openThread(socket, thread)).ok).toBe(true);
      if (i === 500) peak = await gauges();
      expect((await closeThread(socket, thread)).ok).toBe(true);
    }
    // While a thread is open, it shows (so the gauges can move at all).
    expect(peak.rooms).toBe(before.rooms + 1);
    expect(peak.presence).toBe(before.presence + 1);
    expect(peak.presenceKeys).toBe(1);
    expect(await gauges()).toEqual(before);
  });

  it('a disconnect releases everything its socket had open', async () => {
    const api = await system.client('leaver');
    const before = await gauges();
    const s = await connectSocket(system.url(), api.token);
    for (let i = 0; i < 5; i++) {
      const thread = (await api.post('/api/threads', { title: `L${i}` })).body.id as string;
      expect((await openThread(s, thread)).ok).toBe(true);
    }
    expect((await gauges()).presenceKeys).toBe(before.presenceKeys + 5);
    s.disconnect();
    await eventually(async () => {
      const now = await gauges();
      return now.rooms === before.rooms && now.presence === before.presence && now.presenceKeys === before.presenceKeys ? true : undefined;
    }, 'the disconnected socket to be released');
  });

  it("a stream's live buffer expires after the stream is persisted, and subscriptions do not grow with streams", async () => {
    const api = await system.client('streamer');
    const cancelChannel = `${system.prefix}:cancel`;
    const subscribers = async () => Number(((await redis.pubsub('NUMSUB', cancelChannel)) as [string, number])[1]);
    expect(await subscribers()).toBe(1); // one per worker process, not per stream

    const ids: string[] = [];
    const threads: string[] = [];
    for (let i = 0; i < 5; i++) {
      const thread = (await api.post('/api/threads', { title: `S${i}` })).body.id as string;
      threads.push(thread);
      ids.push((await api.post(`/api/threads/${thread}/messages`, { content: `hi ${i} [sim tokens=20 rate=400]` })).body.stream.id);
    }
    for (const id of ids) {
      expect((await streamEnded(api, id)).status).toBe('completed');
    }
    const liveKeys = () => redis.keys(`${system.prefix}:thread:*:stream:*`);
    const ttl = await redis.ttl(redisKeys(system.prefix).streamLive({ streamId: ids[0], threadId: threads[0] }));
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(2);
    await eventually(async () => ((await liveKeys()).length === 0 ? true : undefined), 'live buffers to expire', 10_000);
    // The persisted answer is still there once the live buffer is gone.
    expect((await api.get(`/api/streams/${ids[0]}`)).body.content.length).toBeGreaterThan(0);
    expect(await subscribers()).toBe(1);
  });
});

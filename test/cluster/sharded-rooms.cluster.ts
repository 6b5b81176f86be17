import { Cluster } from 'ioredis';
import { rooms } from '@bgs/shared';
import { keySlot, redisKeys, simulatedAnswer } from '@bgs/server';
import { expectContiguous } from '../support/follower-assertions';
import { testRedisTarget } from '../support/redis-target';
import { connectSocket, nextEvent, openThread, type TestSocket } from '../support/sockets';
import { TestSystem } from '../support/system';
import { ThreadFollower } from '../support/thread-follower';

/**
 * docs/protocol.md#redis-cluster: what is sharded, checked on the shared test cluster
 * (3 masters + 3 replicas). A thread's room channel, its streams' keys and its presence
 * live on one shard; the API follows the room there with sharded pub/sub, and nothing
 * of the thread goes through another shard or classic pub/sub.
 */
/** How many of `keys` (one slot) this node holds; a node that does not serve the slot answers MOVED. */
async function storedHere(node: ReturnType<Cluster['nodes']>[number], ...keys: string[]): Promise<number | 'not its slot'> {
  try {
    return Number(await node.call('EXISTS', ...keys));
  } catch (err) {
    if (/^MOVED /.test((err as Error).message)) return 'not its slot';
    throw err;
  }
}

describe('a thread on Redis Cluster', () => {
  let system: TestSystem;
  let cluster: Cluster;
  const sockets: TestSocket[] = [];

  beforeAll(async () => {
    system = await TestSystem.start({ env: { FRAME_MS: '20' } });
    const target = testRedisTarget();
    if (target.kind !== 'cluster') throw new Error('this suite runs in the cluster jest project');
    cluster = new Cluster(target.nodes);
  });
  afterAll(async () => {
    for (const s of sockets) s.disconnect();
    cluster?.disconnect();
    await system?.stop();
  });

  it('runs the processes on the cluster', () => {
    expect(system.apis[0]!.lines.find((l) => l.msg === 'listening')).toMatchObject({ redis: 'cluster' });
    expect(system.workers[0]!.lines.find((l) => l.msg === 'worker ready')).toMatchObject({ redis: 'cluster' });
  });

  it("streams every frame through the thread's shard only, and keeps its keys there", async () => {
    const api = await system.client('sharded-ann');
    const thread = (await api.post('/api/threads', { title: 'On one shard' })).body.id as string;
    const socket = await connectSocket(system.url(), api.token);
    sockets.push(socket);
    const follower = new ThreadFollower(socket, thread);
    follower.snapshot(await openThread(socket, thread));

    const content = 'Shard me [sim tokens=60 rate=200]';
    const streamId = (await api.post(`/api/threads/${thread}/messages`, { content })).body.stream.id as string;
    const completed = await nextEvent(socket, 'stream.completed', (e) => e.streamId === streamId);
    const expected = simulatedAnswer(content, 60).join('');
    expect(completed.message.content).toBe(expected);
    const frames = expectContiguous(follower, streamId, { expected, fromFirstFrame: true, ended: 'completed' });
    expect(frames.steps.length).toBeGreaterThan(1);

    const keys = redisKeys(system.prefix);
    const channel = `${keys.socketIoKey}#/#${rooms.thread(thread)}#`;
    const slot = keySlot(channel);
    const ref = { streamId, threadId: thread };
    // One slot for the room's channel, the stream's keys and the thread's presence.
    expect([keys.streamLive(ref), keys.streamContent(ref), keys.presence(thread)].map(keySlot)).toEqual([slot, slot, slot]);

    await cluster.ping();
    const masters = cluster.nodes('master');
    expect(masters).toHaveLength(3);
    const ownerKey = (cluster as unknown as { slots: string[][] }).slots[slot]![0]!;
    const perMaster = await Promise.all(masters.map(async (node) => ({
      owner: `${node.options.host}:${node.options.port}` === ownerKey,
      // The API's adapter subscribed to the room on the shard that owns its slot, with SSUBSCRIBE.
      sharded: Number(((await node.call('PUBSUB', 'SHARDNUMSUB', channel)) as [string, number])[1]),
      classic: Number(((await node.call('PUBSUB', 'NUMSUB', channel)) as [string, number])[1]),
      // The live buffer's keys were written there (they outlive the stream for LIVE_STREAM_TTL_S).
      keys: await storedHere(node, keys.streamLive(ref), keys.streamContent(ref)),
    })));
    expect(perMaster.filter((m) => m.owner)).toEqual([{ owner: true, sharded: 1, classic: 0, keys: 2 }]);
    expect(perMaster.filter((m) => !m.owner)).toEqual([
      { owner: false, sharded: 0, classic: 0, keys: 'not its slot' },
      { owner: false, sharded: 0, classic: 0, keys: 'not its slot' },
    ]);
  });
});

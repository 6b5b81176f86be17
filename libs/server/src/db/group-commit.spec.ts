import { groupCommit } from './group-commit';

/** A `write` whose batches the test ends by hand, recording what each carried. */
function controlledWrite() {
  const batches: Array<{ items: number[]; end: (err?: Error) => void }> = [];
  const write = (items: number[]) =>
    new Promise<string[]>((resolve, reject) => {
      batches.push({ items, end: (err) => (err ? reject(err) : resolve(items.map((i) => `done ${i}`))) });
    });
  return { batches, write };
}

const turn = () => new Promise((resolve) => setImmediate(resolve));

describe('groupCommit', () => {
  it('writes the items of one event-loop turn in one batch, each answered with its own result', async () => {
    const { batches, write } = controlledWrite();
    const commit = groupCommit(write, { maxBatch: 100, concurrency: 1 });
    const answers = [commit(1), commit(2), commit(3)];
    await turn();
    expect(batches.map((b) => b.items)).toEqual([[1, 2, 3]]);
    batches[0].end();
    await expect(Promise.all(answers)).resolves.toEqual(['done 1', 'done 2', 'done 3']);
  });

  it('holds items that arrive while the batches are being written, and writes them together next', async () => {
    const { batches, write } = controlledWrite();
    const commit = groupCommit(write, { maxBatch: 100, concurrency: 2 });
    const first = commit(1);
    await turn();
    const second = commit(2);
    await turn();
    const waiting = [commit(3), commit(4), commit(5)];
    await turn();
    expect(batches.map((b) => b.items)).toEqual([[1], [2]]);
    batches[0].end();
    await expect(first).resolves.toBe('done 1');
    await turn();
    expect(batches.map((b) => b.items)).toEqual([[1], [2], [3, 4, 5]]);
    batches[1].end();
    batches[2].end();
    await expect(second).resolves.toBe('done 2');
    await expect(Promise.all(waiting)).resolves.toEqual(['done 3', 'done 4', 'done 5']);
  });

  it('splits at maxBatch', async () => {
    const { batches, write } = controlledWrite();
    const commit = groupCommit(write, { maxBatch: 2, concurrency: 3 });
    const answers = [1, 2, 3, 4, 5].map((i) => commit(i));
    await turn();
    expect(batches.map((b) => b.items)).toEqual([[1, 2], [3, 4], [5]]);
    for (const b of batches) b.end();
    await expect(Promise.all(answers)).resolves.toHaveLength(5);
  });

  it('fails only the items of the batch whose write failed, and goes on with the next', async () => {
    const { batches, write } = controlledWrite();
    const commit = groupCommit(write, { maxBatch: 100, concurrency: 1 });
    const failing = [commit(1), commit(2)];
    await turn();
    const next = commit(3);
    batches[0].end(new Error('connection lost'));
    await expect(failing[0]).rejects.toThrow('connection lost');
    await expect(failing[1]).rejects.toThrow('connection lost');
    await turn();
    expect(batches.map((b) => b.items)).toEqual([[1, 2], [3]]);
    batches[1].end();
    await expect(next).resolves.toBe('done 3');
  });

  it('rejects a batch whose write answers a different number of items', async () => {
    const commit = groupCommit(async (items: number[]) => items.slice(1), { maxBatch: 100, concurrency: 1 });
    const answers = [commit(1), commit(2)];
    await expect(answers[0]).rejects.toThrow('1 answers for 2 items');
    await expect(answers[1]).rejects.toThrow('1 answers for 2 items');
  });
});

import { oncePerKey } from './once-per-key';

describe('oncePerKey', () => {
  it('passes a notification pushed twice on once', () => {
    const told: string[] = [];
    const notify = oncePerKey((n: { id: string; title: string }) => n.id, (n) => told.push(n.title));
    notify({ id: 'n1', title: 'first' });
    notify({ id: 'n2', title: 'second' });
    notify({ id: 'n1', title: 'first, again' });
    expect(told).toEqual(['first', 'second']);
  });

  it('forgets everything once it holds `capacity` keys, so memory stays bounded', () => {
    const told: string[] = [];
    const once = oncePerKey((k: string) => k, (k) => told.push(k), 2);
    for (const k of ['a', 'b', 'a', 'c', 'a']) once(k);
    // 'c' found the set full (a, b): it was cleared, so 'a' passes again after it.
    expect(told).toEqual(['a', 'b', 'c', 'a']);
  });
});

describe('oncePerKey.forget', () => {
  it('lets a key pass again: a thread created again under a deleted id can be deleted again', () => {
    const deleted: string[] = [];
    const threadDeleted = oncePerKey((id: string) => id, (id) => deleted.push(id));
    threadDeleted('t1');
    threadDeleted('t1');
    threadDeleted.forget('t1');
    threadDeleted('t1');
    expect(deleted).toEqual(['t1', 't1']);
  });
});

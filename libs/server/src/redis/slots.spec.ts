import { keySlot } from './slots';

describe('keySlot', () => {
  // Values from Redis's own `CLUSTER KEYSLOT` (and its cluster spec's test vector).
  it.each([
    ['123456789', 12739],
    ['foo', 12182],
    ['bar', 5061],
    ['{user1000}.following', 3443],
    ['{user1000}.followers', 3443],
    ['foo{}{bar}', 8363],
    ['foo{{bar}}zap', 4015],
    ['foo{bar}{zap}', 5061],
    ['thread:{ünï}', 9441],
  ])('%s is in slot %i', (key, slot) => {
    expect(keySlot(key)).toBe(slot);
  });

  it('puts a thread room channel and its stream keys in one slot', () => {
    expect(keySlot('bgs:socket.io#/#thread:{t-1}#')).toBe(keySlot('bgs:thread:{t-1}:stream:s-1:live'));
  });
});

import { messageVersion, versionPosition } from './dto';

describe('versionPosition', () => {
  it.each([
    [0, 0, false],
    [0, 0, true],
    [1, 0, false],
    [1, 1, false],
    [1, 7, true],
    [2, 499_999, false],
    [3, 499_999, true],
    [42, 12_345, false],
  ])('reads back attempt %i, seq %i (final %s) from messageVersion', (attempt, seq, final) => {
    expect(versionPosition(messageVersion(attempt, seq, final))).toEqual({ attempt, seq, final });
  });

  it('a fresh message (version 0) is before any attempt', () => {
    expect(versionPosition(0)).toEqual({ attempt: 0, seq: 0, final: false });
  });

  it('orders positions as versions order them', () => {
    const versions = [messageVersion(1, 3), messageVersion(1, 4), messageVersion(1, 4, true), messageVersion(2, 0), messageVersion(2, 1)];
    const positions = versions.map(versionPosition);
    for (let i = 1; i < positions.length; i++) {
      const [a, b] = [positions[i - 1], positions[i]];
      expect(a.attempt < b.attempt || (a.attempt === b.attempt && (a.seq < b.seq || (a.seq === b.seq && !a.final && b.final)))).toBe(true);
    }
  });
});

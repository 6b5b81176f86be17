import { isCluster, type RedisClient } from './connection';

/** CRC16-CCITT (XMODEM), the checksum Redis Cluster takes modulo 16384. */
const CRC16 = new Uint16Array(256);
for (let i = 0; i < 256; i++) {
  let crc = i << 8;
  for (let bit = 0; bit < 8; bit++) crc = crc & 0x8000 ? (crc << 1) ^ 0x1021 : crc << 1;
  CRC16[i] = crc & 0xffff;
}

/** The hash slot of a key, as `CLUSTER KEYSLOT` gives it (the `{tag}` when there is one). */
export function keySlot(key: string): number {
  const open = key.indexOf('{');
  if (open !== -1) {
    const close = key.indexOf('}', open + 1);
    if (close > open + 1) key = key.slice(open + 1, close);
  }
  let crc = 0;
  for (const byte of Buffer.from(key)) crc = ((crc << 8) & 0xffff) ^ CRC16[((crc >> 8) ^ byte) & 0xff];
  return crc % 16384;
}

/**
 * Splits work that one script would do into the groups one script may do: everything on
 * one server, one group per hash slot on a cluster (a script's keys must share a slot).
 */
export function groupBySlot<T>(redis: RedisClient, items: T[], keyOf: (item: T) => string): T[][] {
  if (!isCluster(redis)) return [items];
  const groups = new Map<number, T[]>();
  for (const item of items) {
    const slot = keySlot(keyOf(item));
    const group = groups.get(slot);
    if (group) group.push(item);
    else groups.set(slot, [item]);
  }
  return [...groups.values()];
}

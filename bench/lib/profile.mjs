// Where a process spent its CPU: self time from a V8 .cpuprofile (node --cpu-prof),
// grouped by npm package for dependencies and by function for the product's own bundle.
import fs from 'node:fs';
import path from 'node:path';

function groupOf(frame) {
  const url = frame.url ?? '';
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url)?.[1];
  if (pkg) return `npm ${pkg}`;
  if (url.startsWith('node:')) return `node ${url.slice(5).split('/').slice(0, 3).join('/')}`;
  if (!url) return frame.functionName ? `(${frame.functionName})` : '(native)';
  return `${frame.functionName || '(anonymous)'} ${path.basename(url)}:${frame.lineNumber + 1}`;
}

/** Top `limit` groups by self time: [{group, ms, share}]. */
export function summarizeProfile(file, limit = 12) {
  const profile = JSON.parse(fs.readFileSync(file, 'utf8'));
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const self = new Map();
  let total = 0;
  for (let i = 0; i < profile.samples.length; i++) {
    const node = byId.get(profile.samples[i]);
    const ms = (profile.timeDeltas[i] ?? 0) / 1000;
    if (!node || node.callFrame.functionName === '(idle)') continue;
    const group = groupOf(node.callFrame);
    self.set(group, (self.get(group) ?? 0) + ms);
    total += ms;
  }
  return [...self.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, limit)
    .map(([group, ms]) => ({ group, ms, share: ms / total }));
}

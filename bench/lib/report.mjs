// Turns the measurements of one run into the markdown report: the comparison table, the
// targets, and where the Redis round trips, Postgres statements and CPU went.
import { totalCalls } from './redis-stats.mjs';
import { totalStatements } from './pg-stats.mjs';
import { fmt, mib } from './stats.mjs';

const LABELS = { ours: 'ours (frames)', naive: 'naive (emit + UPDATE per token)', resumable: 'resumable-stream 2.2.13' };

/** The figures of one path, as numbers (null when it does not apply). */
export function figures(r) {
  const s = r.streamed;
  const span = s.firstDeltaAt && s.lastDeltaAt > s.firstDeltaAt ? (s.lastDeltaAt - s.firstDeltaAt) / 1000 : null;
  // Outside the MONITOR sample's window, whose cost is the measurement's, not the path's.
  const window = r.monitored?.window;
  const tokens = s.tokens - (window?.tokens ?? 0);
  const perK = (role) => (tokens > 0 && r.cpu[role] !== undefined ? (r.cpu[role] - (window?.cpu[role] ?? 0)) / (tokens / 1000) : null);
  const redisCalls = totalCalls(r.redisCalls);
  const pgTotal = totalStatements(r.pgRows);
  const sw = r.switches?.switches > 0 ? r.switches : null;
  // Snapshot probes ran during the streams; the switch phase measures what one close + open costs.
  const pgPerSwitch = sw && sw.switches > 0 ? totalStatements(sw.pgRows) / sw.switches : null;
  const probes = s.opens.n + (s.opens.failed ?? 0);
  const m = r.monitored && r.monitored.frames > 0 ? r.monitored : null;
  const monitored = m ? m.roundTrips / m.frames : null;
  // Round trips of the calls that carried deliveries (the frame path itself), per delivery.
  const framePath = m ? Object.keys(m.carried ?? {}).reduce((sum, k) => sum + m.topLevel[k], 0) / m.frames : null;
  return {
    concurrent: s.peakActive,
    completed: s.completed,
    sendsFailed: s.sends?.failed ?? 0,
    streams: s.streams,
    tokensPerStream: s.tokensPerSecondPerStream.p50,
    tokensTotal: span ? s.tokens / span : null,
    tokensPeak: s.peakTokensPerSecond ?? null,
    completedP50: s.lastTokenToCompleted?.p50 ?? null,
    completedP99: s.lastTokenToCompleted?.p99 ?? null,
    latencyP50: s.latency.p50,
    latencyP99: s.latency.p99,
    latencyMax: s.latency.max,
    gaps: s.gaps,
    resets: s.resets,
    duplicates: s.duplicates,
    mismatches: s.mismatches,
    messagesPerSecond: span ? s.frames / span : null,
    tokensPerMessage: s.frames ? s.tokens / s.frames : null,
    redisPerMessage: s.frames ? redisCalls / s.frames : null,
    // resumable-stream runs no Lua: every command it counts is a round trip.
    framePathRoundTrips: framePath,
    roundTripsPerMessage: monitored ?? (r.name === 'resumable' && s.frames ? redisCalls / s.frames : r.name === 'naive' ? 0 : null),
    pgPerStream: pgTotal / s.streams,
    pgPerStreamWithoutProbes: pgPerSwitch !== null ? (pgTotal - probes * pgPerSwitch) / s.streams : null,
    openP50: s.opens.p50,
    openP99: s.opens.p99,
    openSteadyP50: s.opensAfterRamp?.p50 ?? null,
    openSteadyP99: s.opensAfterRamp?.p99 ?? null,
    cpuApi: perK('api'),
    cpuWorker: r.name === 'naive' ? null : perK('worker'),
    cpuDriver: perK('driver'),
    cpuRedis: perK('redis'),
    cpuPostgres: perK('postgres'),
    rssApi: r.rssPeak.api,
    rssWorker: r.rssPeak.worker ?? null,
    machineBusy: r.cpu.machineBusy,
    othersShare: r.cpu.others / r.cpu.seconds,
    streamSeconds: r.cpu.seconds,
    driverLagP99: s.loopLagP99Ms,
    driverLagMax: s.loopLagMaxMs,
    firstTokenP50: s.firstToken?.p50 ?? null,
    firstTokenP99: s.firstToken?.p99 ?? null,
    sendP50: s.sends?.p50 ?? null,
    sendP99: s.sends?.p99 ?? null,
    notifyP50: r.notified?.latency?.p50 ?? null,
    notifyP99: r.notified?.latency?.p99 ?? null,
    notifyReceived: r.notified ? `${fmt(r.notified.received)} / ${fmt(r.notified.sent)}` : null,
    notifySpanMs: r.notified?.completionSpanMs ?? null,
    decisionsPerSecond: r.notified?.decisionsPerSecond ?? null,
  };
}

const ratio = (a, b) => (a === null || b === null || a === undefined || b === undefined || b === 0 ? '—' : `${fmt(a / b, 2)}×`);

/** Rows of the comparison table: label, value → text, and which number the ratio divides. */
const ROWS = [
  ['concurrent streams (peak)', (f) => fmt(f.concurrent), (f) => f.concurrent],
  ['streams completed', (f) => `${fmt(f.completed)} / ${fmt(f.streams)}${f.sendsFailed ? ` (${fmt(f.sendsFailed)} sends failed)` : ''}`, null],
  ['tokens/s per stream (p50)', (f) => fmt(f.tokensPerStream, 1), (f) => f.tokensPerStream],
  ['tokens/s delivered in total (first to last token)', (f) => fmt(f.tokensTotal), (f) => f.tokensTotal],
  ['… best second', (f) => fmt(f.tokensPeak), (f) => f.tokensPeak],
  ['token → client latency p50 (ms)', (f) => fmt(f.latencyP50), (f) => f.latencyP50],
  ['token → client latency p99 (ms)', (f) => fmt(f.latencyP99), (f) => f.latencyP99],
  ['send message → 202 p50 / p99 (ms)', (f) => `${fmt(f.sendP50)} / ${fmt(f.sendP99)}`, (f) => f.sendP99],
  ['send → first token at the client p50 / p99 (ms)', (f) => `${fmt(f.firstTokenP50)} / ${fmt(f.firstTokenP99)}`, (f) => f.firstTokenP99],
  ['last token → stream.completed p50 / p99 (ms)', (f) => `${fmt(f.completedP50)} / ${fmt(f.completedP99)}`, (f) => f.completedP99],
  ['completion → notification.created p50 / p99 (ms), a burst of answers on closed threads', (f) => (f.notifyReceived === null ? '—' : `${fmt(f.notifyP50)} / ${fmt(f.notifyP99)} (${f.notifyReceived} notified; completions spread over ${fmt(f.notifySpanMs)} ms)`), (f) => f.notifyP99],
  ['notification decisions per second, one listener (first completion to last decision)', (f) => fmt(f.decisionsPerSecond), (f) => f.decisionsPerSecond],
  ['gaps / duplicates / wrong final text', (f) => `${fmt(f.gaps)} / ${fmt(f.duplicates)} / ${fmt(f.mismatches)}`, null],
  ['streams restarted (stream.reset)', (f) => fmt(f.resets), null],
  ['messages/s to clients (frames or tokens)', (f) => fmt(f.messagesPerSecond), (f) => f.messagesPerSecond],
  ['tokens per message', (f) => fmt(f.tokensPerMessage, 2), (f) => f.tokensPerMessage],
  ['Redis commands per message (commandstats, Lua-inner included)', (f) => fmt(f.redisPerMessage, 2), (f) => f.redisPerMessage],
  ['Redis round trips per message, all traffic (MONITOR sample)', (f) => fmt(f.roundTripsPerMessage, 2), (f) => f.roundTripsPerMessage],
  ['… of which the calls that deliver', (f) => fmt(f.framePathRoundTrips, 2), (f) => f.framePathRoundTrips],
  ['Redis commands per token', (f) => fmt(f.redisPerMessage !== null && f.tokensPerMessage ? f.redisPerMessage / f.tokensPerMessage : null, 2), (f) => (f.redisPerMessage !== null && f.tokensPerMessage ? f.redisPerMessage / f.tokensPerMessage : null)],
  ['Postgres statements per stream (all)', (f) => fmt(f.pgPerStream, 1), (f) => f.pgPerStream],
  ['… without the snapshot probes', (f) => fmt(f.pgPerStreamWithoutProbes, 1), (f) => f.pgPerStreamWithoutProbes],
  ['thread.open → snapshot ack p50 / p99 (ms), during streams', (f) => `${fmt(f.openP50, 1)} / ${fmt(f.openP99, 1)}`, (f) => f.openP99],
  ['… after the send ramp (all messages sent)', (f) => `${fmt(f.openSteadyP50, 1)} / ${fmt(f.openSteadyP99, 1)}`, (f) => f.openSteadyP99],
  ['CPU s per 1,000 tokens: API', (f) => fmt(f.cpuApi, 3), (f) => f.cpuApi],
  ['CPU s per 1,000 tokens: worker', (f) => fmt(f.cpuWorker, 3), (f) => f.cpuWorker],
  ['CPU s per 1,000 tokens: Redis', (f) => fmt(f.cpuRedis, 3), (f) => f.cpuRedis],
  ['CPU s per 1,000 tokens: Postgres', (f) => fmt(f.cpuPostgres, 3), (f) => f.cpuPostgres],
  ['CPU s per 1,000 tokens: load driver', (f) => fmt(f.cpuDriver, 3), (f) => f.cpuDriver],
  ['RSS peak: API / worker', (f) => `${mib(f.rssApi)} / ${mib(f.rssWorker)}`, (f) => f.rssApi],
  ['machine CPU busy while streaming (all cores)', (f) => `${fmt(100 * f.machineBusy)}%`, null],
  ['… of which processes outside the benchmark (of one core)', (f) => `${fmt(100 * f.othersShare)}%`, null],
  ['load driver event-loop lag p99 / max (ms)', (f) => `${fmt(f.driverLagP99)} / ${fmt(f.driverLagMax)}`, null],
];

function comparisonTable(results) {
  const all = results.map((r) => ({ r, f: figures(r) }));
  const ours = all[0];
  const others = all.slice(1);
  const head = ['', LABELS.ours, ...others.flatMap(({ r }) => [LABELS[r.name], `ours ÷ ${r.name}`])];
  const lines = [`| ${head.join(' | ')} |`, `|${head.map(() => '---').join('|')}|`];
  for (const [label, text, number] of ROWS) {
    const cells = [label, text(ours.f)];
    for (const o of others) cells.push(text(o.f), number ? ratio(number(ours.f), number(o.f)) : '');
    lines.push(`| ${cells.join(' | ')} |`);
  }
  return { table: lines.join('\n'), ours: ours.f };
}

function targets(flags, f, cores) {
  const check = (ok) => (ok === null ? '?' : ok ? '✅' : '❌');
  const latencyTarget = flags.frameMs + 50;
  const rateOk = f.tokensPerStream !== null ? f.tokensPerStream >= 0.95 * flags.rate : null;
  return [
    `Targets (${cores} cores; API + 1 worker + Redis + Postgres + the load driver on this machine):`,
    '',
    `| target | measured | |`,
    `|---|---|---|`,
    `| 1,000 concurrent streams at 30 tokens/s each | ${fmt(f.concurrent)} concurrent at ${fmt(f.tokensPerStream, 1)} tokens/s (asked: ${flags.streams} × ${flags.rate}/s) | ${check(f.concurrent >= 1000 && rateOk && flags.rate >= 30)} |`,
    `| p99 token → client ≤ FRAME_MS + 50 = ${latencyTarget} ms | ${fmt(f.latencyP99)} ms | ${check(f.latencyP99 !== null ? f.latencyP99 <= latencyTarget : null)} |`,
    `| zero gaps | ${fmt(f.gaps)} gaps, ${fmt(f.mismatches)} wrong final texts; ${f.streams - f.completed} streams not completed${f.sendsFailed ? `, ${f.sendsFailed} of them because the send failed` : ''} | ${check(f.gaps === 0 && f.mismatches === 0 && f.completed === f.streams)} |`,
    `| ≤ 1 Redis round trip per frame | ${fmt(f.framePathRoundTrips, 2)} on the frame path; ${fmt(f.roundTripsPerMessage, 2)} with all other traffic (job, presence, start/end) spread over the frames | ${check(f.framePathRoundTrips !== null ? f.framePathRoundTrips <= 1.005 : null)} |`,
    `| Postgres queries per stream constant in tokens | ${fmt(f.pgPerStreamWithoutProbes ?? f.pgPerStream, 1)} per stream; none per frame (see the statement list) | see below |`,
    `| snapshot p99 ≤ 20 ms | ${fmt(f.openP99, 1)} ms over the whole run; ${fmt(f.openSteadyP99, 1)} ms once every message was sent | ${check(f.openP99 !== null ? f.openP99 <= 20 : null)} |`,
  ].join('\n');
}

function monitorSection(r) {
  const m = r.monitored;
  if (!m) return '';
  const per = (n) => fmt(n / m.frames, 3);
  const top = Object.entries(m.topLevel).sort((a, b) => b[1] - a[1]).slice(0, 12);
  const inner = Object.entries(m.inner).sort((a, b) => b[1] - a[1]).slice(0, 8);
  return [
    `Redis round trips of \`${r.name}\` in a ${m.to - m.from} ms MONITOR sample (${fmt(m.frames)} deliveries; per delivery):`,
    '',
    ...top.map(([k, n]) => `- ${k}: ${per(n)}${m.carried?.[k] ? ` (carries ${per(m.carried[k])} deliveries)` : ''}`),
    inner.length ? `- run inside Lua (not round trips): ${inner.map(([k, n]) => `${k} ${per(n)}`).join(', ')}` : '',
  ].join('\n');
}

function statementsSection(r, streams) {
  const rows = r.pgRows.slice(0, 12);
  return [
    `Postgres statements of \`${r.name}\` while streaming (pg_stat_statements; calls per stream, snapshot probes included):`,
    '',
    ...rows.map((row) => `- ${fmt(row.calls / streams, 2)} × \`${row.query.replace(/`/g, "'")}\``),
  ].join('\n');
}

function switchesSection(r) {
  const sw = r.switches;
  if (!sw || !sw.switches) return '';
  const m = (mark) => mark.metrics;
  const metricKeys = [...new Set([...Object.keys(m(sw.before) ?? {}), ...Object.keys(m(sw.after) ?? {}), ...Object.keys(m(sw.afterClose) ?? {})])];
  const lines = [
    `Thread switches (\`${r.name}\`, after the streams ended): ${fmt(sw.switches)} switches (thread.close + thread.open) over ${fmt(sw.seconds, 1)} s = ${fmt(sw.perSecond)}/s, ${sw.failed} failed; thread.open ack p50 ${fmt(sw.open.p50, 1)} ms, p99 ${fmt(sw.open.p99, 1)} ms; per switch ${fmt(totalStatements(sw.pgRows) / Math.max(1, sw.switches), 2)} Postgres statements, ${fmt(totalCalls(sw.redisCalls) / Math.max(1, sw.switches), 2)} Redis commands; CPU ${fmt(sw.cpu.api, 1)} s API.`,
    '',
    '| | before streams | before switches | after switches | after all sockets closed |',
    '|---|---|---|---|---|',
    `| API RSS | ${mib(sw.idle.rss.api)} | ${mib(sw.before.rss.api)} | ${mib(sw.after.rss.api)} | ${mib(sw.afterClose.rss.api)} |`,
    `| worker RSS | ${mib(sw.idle.rss.worker)} | ${mib(sw.before.rss.worker)} | ${mib(sw.after.rss.worker)} | ${mib(sw.afterClose.rss.worker)} |`,
    `| API heap used after a forced GC | ${mib(sw.idle.heap?.api)} | ${mib(sw.before.heap?.api)} | ${mib(sw.after.heap?.api)} | ${mib(sw.afterClose.heap?.api)} |`,
    `| worker heap used after a forced GC | ${mib(sw.idle.heap?.worker)} | ${mib(sw.before.heap?.worker)} | ${mib(sw.after.heap?.worker)} | ${mib(sw.afterClose.heap?.worker)} |`,
    `| presence entries in Redis (threads) | ${presence(sw.idle)} | ${presence(sw.before)} | ${presence(sw.after)} | ${presence(sw.afterClose)} |`,
  ];
  if (m(sw.before)?.unavailable) lines.push(`| API /metrics | ${m(sw.before).unavailable}: heap, room and listener counts not measured | | | |`);
  else for (const key of metricKeys) lines.push(`| ${key} | ${fmt(m(sw.idle)?.[key])} | ${fmt(m(sw.before)?.[key])} | ${fmt(m(sw.after)?.[key])} | ${fmt(m(sw.afterClose)?.[key])} |`);
  return lines.join('\n');
}

function profilesSection(profiles) {
  const roles = Object.keys(profiles);
  if (roles.length === 0) return '';
  return roles
    .map((role) => [
      `CPU profile of \`${role}\` (self time over the whole run, --cpu-prof; top groups):`,
      '',
      ...profiles[role].map((p) => `- ${fmt(100 * p.share, 1)}% ${p.group}`),
      '',
    ].join('\n'))
    .join('\n');
}

const presence = (mark) => (mark.presence ? `${fmt(mark.presence.entries)} (${fmt(mark.presence.threads)})` : '—');

/** The whole report, markdown. */
export function renderReport({ flags, results, profiles = {}, command, cores, cpuModel, node, versions, seconds }) {
  const { table, ours } = comparisonTable(results);
  const oursResult = results[0];
  return [
    `## Benchmark: the fan-out path against its peers`,
    '',
    `\`${command}\` — ${cores} cores (${cpuModel ?? 'unknown CPU'}), node ${node}, Redis ${versions.redis}, Postgres ${versions.postgres}; whole run ${fmt(seconds)} s.`,
    `Workload: ${flags.streams} streams × ${flags.tokens} tokens at ${flags.rate} tokens/s, FRAME_MS ${flags.frameMs}; socket users hold ${flags.threadsPerUser} threads each on one socket; ${flags.openRate} snapshot probes/s on ${flags.probeSockets} probe sockets while streaming; ${flags.switches} thread switches after.`,
    'Each path runs alone with its own processes, one after the other, against the same Redis and Postgres; the load driver is a separate process. "message" = what one client receives: a frame (ours) or a token (baselines). Ratios are ours ÷ theirs (below 1× is less).',
    '',
    table,
    '',
    targets(flags, ours, cores),
    '',
    monitorSection(oursResult),
    '',
    statementsSection(oursResult, oursResult.streamed.streams),
    '',
    switchesSection(oursResult),
    '',
    profilesSection(profiles),
  ].join('\n');
}

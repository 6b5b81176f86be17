// Heap used after a full GC, asked of a process started with --inspect=127.0.0.1:0 through
// the DevTools protocol, so "before/after" heap figures are not GC timing noise.
// `ws` is the WebSocket client socket.io already installs.

/** Bytes of JS heap in use right after a forced garbage collection; null when unreachable. */
export async function heapAfterGc(url, timeoutMs = 10_000) {
  if (!url) return null;
  let WebSocket;
  try {
    ({ default: WebSocket } = await import('ws'));
  } catch {
    return null;
  }
  const ws = new WebSocket(url);
  const timer = setTimeout(() => ws.terminate(), timeoutMs);
  try {
    await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
    let nextId = 0;
    const pending = new Map();
    ws.on('message', (data) => {
      const message = JSON.parse(String(data));
      pending.get(message.id)?.(message);
    });
    const call = (method) =>
      new Promise((resolve, reject) => {
        const id = ++nextId;
        pending.set(id, (m) => (m.error ? reject(new Error(m.error.message)) : resolve(m.result)));
        ws.send(JSON.stringify({ id, method, params: {} }));
      });
    await call('HeapProfiler.collectGarbage');
    const usage = await call('Runtime.getHeapUsage');
    return usage.usedSize;
  } catch {
    return null;
  } finally {
    clearTimeout(timer);
    ws.close();
  }
}

/** The DevTools URL a node process prints on stderr when started with --inspect. */
export const inspectorUrlIn = (text) => /Debugger listening on (ws:\/\/\S+)/.exec(text)?.[1] ?? null;

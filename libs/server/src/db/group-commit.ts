export interface GroupCommitOptions {
  /** Most items one call of `write` carries (a statement's parameters are limited). */
  maxBatch: number;
  /** Batches written at once; items that arrive meanwhile wait and go together in the next. */
  concurrency: number;
}

/**
 * Group commit: items asked for in one turn of the event loop go together, and while
 * `concurrency` batches are being written the next items wait and go together in one
 * batch. At rest an item goes alone at once; under a burst (500 sends in a second) a
 * handful of statements carry them all instead of one per item, so they neither queue
 * for the pool's connections nor pay a round trip and a commit each.
 *
 * `write` answers each item in order; when it throws, every item of its batch fails.
 */
export function groupCommit<In, Out>(write: (items: In[]) => Promise<Out[]>, options: GroupCommitOptions): (item: In) => Promise<Out> {
  interface Waiting {
    item: In;
    resolve: (out: Out) => void;
    reject: (err: unknown) => void;
  }
  const waiting: Waiting[] = [];
  let writing = 0;
  let scheduled = false;

  const flush = () => {
    scheduled = false;
    while (waiting.length > 0 && writing < options.concurrency) {
      const batch = waiting.splice(0, options.maxBatch);
      writing++;
      void writeBatch(batch).finally(() => {
        writing--;
        flush();
      });
    }
  };

  const writeBatch = async (batch: Waiting[]) => {
    try {
      const outs = await write(batch.map((w) => w.item));
      if (outs.length !== batch.length) throw new Error(`group commit: ${outs.length} answers for ${batch.length} items`);
      batch.forEach((w, i) => w.resolve(outs[i]));
    } catch (err) {
      for (const w of batch) w.reject(err);
    }
  };

  return (item) =>
    new Promise<Out>((resolve, reject) => {
      waiting.push({ item, resolve, reject });
      if (scheduled || writing >= options.concurrency) return;
      scheduled = true;
      setImmediate(flush);
    });
}

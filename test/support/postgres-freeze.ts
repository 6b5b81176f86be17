import fs from 'node:fs';
import path from 'node:path';
import type { PostgresServer } from './postgres-server';

/** The pids of `pid`'s children, from /proc (Linux). */
function childrenOf(pid: number): number[] {
  const children: number[] = [];
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      // Field 4 of /proc/<pid>/stat is the parent pid; the command name (field 2) may hold spaces, so split after its ')'.
      const stat = fs.readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === pid) children.push(Number(entry));
    } catch {
      /* gone meanwhile */
    }
  }
  return children;
}

/**
 * Freezes a test's own Postgres cluster (SIGSTOP to its postmaster, then to every
 * process it forked): connections stay open and queries hang unanswered, as on an
 * overloaded or stalled database, until `thaw` (SIGCONT). Only the cluster this test
 * started is touched, by pid.
 */
export class PostgresFreeze {
  private frozen: number[] = [];

  constructor(private readonly pg: PostgresServer) {}

  private postmasterPid(): number {
    const pidFile = path.join(this.pg.dir, 'data', 'postmaster.pid');
    const pid = Number(fs.readFileSync(pidFile, 'utf8').split('\n')[0]);
    if (!Number.isInteger(pid) || pid <= 1) throw new Error(`no postmaster pid in ${pidFile}`);
    return pid;
  }

  get isFrozen(): boolean {
    return this.frozen.length > 0;
  }

  /** Stops the postmaster first (so it forks nothing new), then its children. */
  freeze(): void {
    if (this.isFrozen) throw new Error('postgres is already frozen');
    const postmaster = this.postmasterPid();
    process.kill(postmaster, 'SIGSTOP');
    this.frozen = [postmaster];
    for (const child of childrenOf(postmaster)) {
      try {
        process.kill(child, 'SIGSTOP');
        this.frozen.push(child);
      } catch {
        /* exited meanwhile */
      }
    }
  }

  /** SIGCONT to everything `freeze` stopped (children first); idempotent. */
  thaw(): void {
    for (const pid of this.frozen.reverse()) {
      try {
        process.kill(pid, 'SIGCONT');
      } catch {
        /* exited meanwhile */
      }
    }
    this.frozen = [];
  }
}

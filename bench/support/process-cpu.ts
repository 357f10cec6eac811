// CPU used by the machine's other busy processes (MariaDB, Redis) and by this
// one, between two readings, from /proc: on a machine of two cores they share
// the CPU with the server, and a latency tail can be theirs. Linux only; where
// /proc is missing the reading says so.
import fs from 'node:fs';
import os from 'node:os';

const WATCHED = ['mariadbd', 'mysqld', 'redis-server'];

function ticksOf(pid: string): number | undefined {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(fields[11]) + Number(fields[12]); // utime + stime
  } catch {
    return undefined;
  }
}

function watchedPids(): Map<string, string> {
  const pids = new Map<string, string>();
  try {
    for (const pid of fs.readdirSync('/proc').filter((name) => /^\d+$/.test(name))) {
      try {
        const name = fs.readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
        if (WATCHED.includes(name)) pids.set(pid, name);
      } catch { /* gone */ }
    }
  } catch { /* no /proc */ }
  return pids;
}

export interface ProcessCpu {
  /** "bench 0.31, mariadbd 0.05, redis-server 0.12 s/s (machine load ...)" since the previous call. */
  sinceLast(): string;
}

export function processCpu(): ProcessCpu {
  const pids = watchedPids();
  const ticksPerSecond = 100; // USER_HZ on Linux
  const read = () => new Map([...pids].map(([pid]) => [pid, ticksOf(pid)]));
  let last = read();
  let lastOwn = process.cpuUsage();
  let lastAt = Date.now();
  return {
    sinceLast() {
      if (pids.size === 0) return 'no MariaDB or Redis process seen in /proc';
      const now = read();
      const own = process.cpuUsage();
      const seconds = Math.max(0.001, (Date.now() - lastAt) / 1000);
      const parts = [`bench ${((own.user + own.system - lastOwn.user - lastOwn.system) / 1e6 / seconds).toFixed(2)}`];
      for (const [pid, name] of pids) {
        const before = last.get(pid);
        const after = now.get(pid);
        if (before !== undefined && after !== undefined) parts.push(`${name} ${((after - before) / ticksPerSecond / seconds).toFixed(2)}`);
      }
      last = now;
      lastOwn = own;
      lastAt = Date.now();
      return `${parts.join(', ')} CPU s/s (load ${os.loadavg()[0]!.toFixed(2)})`;
    },
  };
}

// bench:cluster: the steady-state load of bench:steady with presence on one
// server process and on several sharing Redis and MySQL, clients spread
// round-robin; the latency probe publishes on the first server and receives
// on the last, so in a cluster each message crosses processes.
//   npm run bench:cluster -- --clients 1000 --servers 1,3
import { numberList, parseFlags } from './support/args';
import { runLoad, type LoadResult } from './support/load';
import { runBenchmark } from './support/processes';
import { commit, progress, saveResult, table } from './support/report';

const flags = parseFlags({ clients: 1000, servers: '1,3', rooms: 100, 'two-tabs': 0.25, 'long-polling': 0.25, seconds: 20, rate: 20, timeout: 10, workers: 2, repeat: 1 });

async function main(): Promise<void> {
  const rows: LoadResult[] = [];
  for (const servers of numberList(flags.servers)) {
    const runs: LoadResult[] = [];
    for (let r = 0; r < flags.repeat; r += 1) {
      runs.push(await runLoad({
        kind: 'presence', clients: flags.clients, rooms: flags.rooms, twoTabs: flags['two-tabs'], longPolling: flags['long-polling'],
        servers, workers: flags.workers, seconds: flags.seconds, rate: flags.rate, timeout: flags.timeout,
      }));
    }
    rows.push(runs.reduce((a, b) => (b.cpu < a.cpu ? b : a)));
  }
  console.log(`\nCluster: ${flags.clients} clients with presence, ${flags.seconds} s measured, best of ${flags.repeat} by CPU; commit ${commit()}\n`);
  console.log(table(
    ['servers', 'connected', 'connect time s', 'CPU s/s (all servers)', 'CPU per server', 'p50 ms', 'p99 ms', 'RSS MB (all)', 'connects/s'],
    rows.map((r) => [r.servers, `${r.connected}${r.failed ? ` (${r.failed} failed)` : ''}`, r.openSeconds, r.cpu, r.cpu / r.servers, r.latency.p50, r.latency.p99, r.rssMB, r.connectsPerSecond]),
  ));
  progress(`results: ${saveResult('cluster', { flags, rows })}`);
}

runBenchmark(main);

// bench:topology: publish latency through HAProxy (round robin per request, no
// stickiness) in front of three server processes, against one process alone,
// under the steady load of bench:steady. The probe's clients use long-polling,
// so that behind the balancer each of their requests may land on another
// process and every delivery crosses processes through Redis.
//   npm run bench:topology -- --clients 300 --seconds 20
import { startHaproxy } from '../test/topology/haproxy';
import { parseFlags } from './support/args';
import { runLoad, type LoadResult } from './support/load';
import { runBenchmark } from './support/processes';
import { commit, progress, saveResult, table } from './support/report';

const flags = parseFlags({ clients: 300, rooms: 30, 'two-tabs': 0.25, 'long-polling': 0.5, seconds: 20, rate: 20, timeout: 10, workers: 1, port: 47120, 'stats-port': 47121 });

async function main(): Promise<void> {
  const common = {
    kind: 'presence' as const, clients: flags.clients, rooms: flags.rooms, twoTabs: flags['two-tabs'], longPolling: flags['long-polling'],
    workers: flags.workers, seconds: flags.seconds, rate: flags.rate, timeout: flags.timeout, probeTransport: 'long-polling' as const,
  };
  const rows: Array<{ setup: string; result: LoadResult }> = [];
  rows.push({ setup: 'one process', result: await runLoad({ ...common, servers: 1 }) });
  rows.push({
    setup: 'HAProxy + 3 processes',
    result: await runLoad({
      ...common,
      servers: 3,
      balancer: (backends) => startHaproxy({ port: flags.port, statsPort: flags['stats-port'], backends }),
    }),
  });
  console.log(`\nTopology: ${flags.clients} clients with presence, probe on long-polling at ${flags.rate} messages/s for ${flags.seconds} s; commit ${commit()}\n`);
  console.log(table(
    ['setup', 'connected', 'p50 ms', 'p99 ms', 'max ms', 'received', 'CPU s/s (all servers)'],
    rows.map(({ setup, result: r }) => [setup, `${r.connected}${r.failed ? ` (${r.failed} failed)` : ''}`, r.latency.p50, r.latency.p99, r.latency.max, `${r.latency.received}/${r.latency.sent}`, r.cpu]),
  ));
  const [single, balanced] = rows.map((row) => row.result.latency.p99);
  if (single && balanced) progress(`p99 behind the balancer is ${(balanced / single).toFixed(2)} × one process's`);
  progress(`results: ${saveResult('topology', { flags, rows })}`);
}

runBenchmark(main);

// bench:redis-commands: what one Redis serves per client. Under the steady load
// of bench:steady (connected clients, every one sending a /meta/connect per
// timeout, and a chat message published at --rate into one room), Redis'
// MONITOR stream is counted for the measured window: the commands clients of
// Redis sent (round trips) and the commands Redis ran in total (including the
// ones inside Lua scripts), split by whose keys they touch: the Faye engine's
// (<ns>/...) or presence's (/<ns>/...). Divided by clients and seconds, that is
// the load per client the scale plan (docs/scale-plan.md) builds on.
//   npm run bench:redis-commands -- --clients 500 --seconds 20 --rate 5
import Redis from 'ioredis';
import { REDIS_URL } from '../test/support/redis';
import { parseFlags } from './support/args';
import { runLoad } from './support/load';
import { runBenchmark } from './support/processes';
import { commit, progress, saveResult, table } from './support/report';
import { EngineKeys, PresenceKeys } from '../lib/stores/keys';

const flags = parseFlags({ clients: 500, rooms: 50, 'two-tabs': 0.25, 'long-polling': 0.25, seconds: 20, rate: 5, timeout: 10, workers: 1, servers: 1 });

type Owner = 'engine' | 'presence' | 'other';
interface Counts { sent: Record<Owner, number>; ran: Record<Owner, number>; byCommand: Record<string, number>; seconds: number }

/** The key (or Pub/Sub channel) a MONITOR line's command is about. */
function subjectOf(args: string[]): string | undefined {
  const command = args[0]?.toLowerCase();
  if (command === 'evalsha' || command === 'eval') return Number(args[2]) > 0 ? args[3] : args[4];
  return args[1];
}

function ownerOf(subject: string | undefined, namespace: string): Owner {
  if (subject?.startsWith(new PresenceKeys(namespace).prefix)) return 'presence';
  if (subject?.startsWith(new EngineKeys(namespace).prefix)) return 'engine';
  return 'other';
}

async function observe(namespace: string): Promise<() => Promise<Counts>> {
  const empty = (): Record<Owner, number> => ({ engine: 0, presence: 0, other: 0 });
  const counts: Counts = { sent: empty(), ran: empty(), byCommand: {}, seconds: 0 };
  const monitor = await new Redis(REDIS_URL).monitor();
  // MONITOR shows a script call, then the commands the script runs: those
  // belong to whoever made the call.
  let scriptOwner: Owner = 'other';
  const count = (owner: Owner, command: string, lua: boolean) => {
    if (!lua) counts.sent[owner] += 1;
    counts.ran[owner] += 1;
    const key = `${owner} ${lua ? 'lua ' : ''}${command}`;
    counts.byCommand[key] = (counts.byCommand[key] ?? 0) + 1;
  };
  monitor.on('monitor', (_time: string, args: string[], source: string) => {
    const command = args[0]!.toLowerCase();
    if (source === 'lua') {
      count(scriptOwner, command, true);
      return;
    }
    const owner = ownerOf(subjectOf(args), namespace);
    if (command === 'evalsha' || command === 'eval') scriptOwner = owner;
    count(owner, command, false);
  });
  const started = Date.now();
  return async () => {
    counts.seconds = (Date.now() - started) / 1000;
    monitor.disconnect();
    return counts;
  };
}

async function main(): Promise<void> {
  const result = await runLoad({
    kind: 'presence', clients: flags.clients, rooms: flags.rooms, twoTabs: flags['two-tabs'], longPolling: flags['long-polling'],
    servers: flags.servers, workers: flags.workers, seconds: flags.seconds, rate: flags.rate, timeout: flags.timeout, observe,
  });
  const counts = result.observed as Counts;
  const perClient = (n: number) => n / counts.seconds / result.connected;
  console.log(`\nRedis commands: ${result.connected} clients over ${flags.servers} process(es), timeout ${flags.timeout} s, ${flags.rate} chat messages/s into a room of ~${Math.round(flags.clients / flags.rooms)}, ${counts.seconds.toFixed(1)} s; commit ${commit()}\n`);
  console.log(table(
    ['owner', 'round trips/s', 'per client/s', 'commands run/s (incl. Lua)', 'per client/s'],
    (['engine', 'presence', 'other'] as const).map((owner) => [owner, counts.sent[owner] / counts.seconds, perClient(counts.sent[owner]), counts.ran[owner] / counts.seconds, perClient(counts.ran[owner])]),
  ));
  console.log('\nBy command (per second):');
  console.log(table(['command', 'per s'], Object.entries(counts.byCommand).sort((a, b) => b[1] - a[1]).map(([command, n]) => [command, n / counts.seconds])));
  progress(`results: ${saveResult('redis-commands', { flags, result })}`);
}

runBenchmark(main);

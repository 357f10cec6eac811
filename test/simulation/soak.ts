// The simulation for as long as asked: consecutive seeds until the time is up,
// each failure shrunk to a minimal trace, and a summary at the end.
//
//   npm run soak -- --minutes 30                      both backends, seeds from a random start
//   npm run soak -- --backend embedded --seed 1234    one seed (reproduce a failure)
//   npm run soak -- --minutes 10 --seed 500 --size large
//   npm run soak -- --backend mysql-redis --seed 1234 --invariant 'online time = login log'
import { openBackend, type BackendName } from './backends';
import { simulateSeed } from './run';

interface Args {
  minutes?: number;
  seed?: number;
  backends: BackendName[];
  size: 'small' | 'large';
  /** The invariant to shrink a failure for, when it breaks several. */
  invariant?: string;
}

function parseArgs(argv: string[]): Args {
  const args: Args = { backends: ['embedded', 'mysql-redis'], size: 'small' };
  for (let i = 0; i < argv.length; i++) {
    const value = argv[i + 1];
    switch (argv[i]) {
      case '--minutes': args.minutes = Number(value); i++; break;
      case '--seed': args.seed = Number(value); i++; break;
      case '--backend':
        if (value !== 'embedded' && value !== 'mysql-redis' && value !== 'both') throw new Error('--backend: embedded, mysql-redis or both');
        args.backends = value === 'both' ? ['embedded', 'mysql-redis'] : [value];
        i++;
        break;
      case '--invariant': args.invariant = value; i++; break;
      case '--size':
        if (value !== 'small' && value !== 'large') throw new Error('--size: small or large');
        args.size = value;
        i++;
        break;
      default: throw new Error(`unknown argument ${argv[i]}; use --minutes N, --seed S, --backend embedded|mysql-redis|both, --size small|large, --invariant NAME`);
    }
  }
  if (args.minutes !== undefined && !(args.minutes > 0)) throw new Error('--minutes: a positive number');
  if (args.seed !== undefined && !Number.isSafeInteger(args.seed)) throw new Error('--seed: an integer');
  return args;
}

async function main(): Promise<number> {
  const args = parseArgs(process.argv.slice(2));
  // Without --minutes, exactly one seed runs (the one given, or a random one).
  const first = args.seed ?? Math.floor(Math.random() * 1e9);
  const deadline = args.minutes === undefined ? undefined : Date.now() + args.minutes * 60_000;
  const summary = { runs: 0, simulatedMs: 0, failures: new Map<string, number[]>() };
  const backends = await Promise.all(args.backends.map((name) => openBackend(name)));
  try {
    for (let seed = first; ; seed++) {
      for (const backend of backends) {
        const outcome = await simulateSeed(backend, seed, { size: args.size, shrinkBudgetMs: 120_000, invariant: args.invariant });
        summary.runs += 1;
        summary.simulatedMs += outcome.result.simulatedMs;
        if (outcome.trace) {
          console.log(outcome.trace);
          for (const invariant of new Set(outcome.result.violations.map((v) => v.invariant))) {
            const key = `${invariant} (${backend.name})`;
            summary.failures.set(key, [...(summary.failures.get(key) ?? []), seed]);
          }
        } else {
          console.log(`seed ${seed} on ${backend.name}: ok (${outcome.result.applied} steps, ${Math.round(outcome.result.simulatedMs / 1000)} s simulated)`);
        }
      }
      if (deadline === undefined || Date.now() >= deadline) break;
    }
  } finally {
    await Promise.all(backends.map((backend) => backend.close()));
  }
  console.log(`\nsoak: ${summary.runs} runs from seed ${first}, ${(summary.simulatedMs / 3_600_000).toFixed(2)} h simulated at the default settings`);
  if (summary.failures.size === 0) console.log('no invariant broken');
  for (const [key, seeds] of summary.failures) console.log(`  ${key}: ${seeds.length} seeds, e.g. ${seeds.slice(0, 8).join(', ')}`);
  return summary.failures.size === 0 ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (error) => {
    console.error(`soak: ${(error as Error).message}`);
    process.exit(2);
  },
);

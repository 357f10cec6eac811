// npm run bench: every scenario with modest defaults, one after the other,
// each in its own process (so one failing does not hide the others' numbers).
// Takes about fifteen minutes on a 2-core machine; each scenario prints its own table.
import { spawnSync } from 'node:child_process';
import path from 'node:path';

const runs: Array<[string, string[]]> = [
  ['engine.ts', ['--messages', '3000']],
  ['steady.ts', ['--clients', '250,500,1000', '--seconds', '10']],
  ['storm.ts', ['--users', '250,1000', '--hold', '12']],
  ['cluster.ts', ['--clients', '500', '--seconds', '10']],
  ['capacity.ts', ['--clients', '2000', '--seconds', '10']],
  ['room.ts', ['--members', '2000', '--joins', '50', '--newcomers', '100']],
];

let failed = 0;
for (const [script, args] of runs) {
  console.log(`\n=== ${script} ${args.join(' ')} ===\n`);
  const result = spawnSync(process.execPath, ['--import', 'tsx', path.join(__dirname, script), ...args], { stdio: 'inherit', timeout: 900_000 });
  if (result.status !== 0) {
    failed += 1;
    console.error(`${script} failed (${result.status ?? result.signal})`);
  }
}
process.exit(failed ? 1 : 0);

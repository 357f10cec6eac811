// A MariaDB server of the test's own: its own data directory, port and socket,
// so that restarting it leaves the shared MariaDB alone. Runs as the user the
// test runs as (root in CI, hence --user). Grants are skipped: it listens on
// 127.0.0.1 only and lives as long as the test.
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { removeScratch, scratchDir, startService, type Service } from './services';

export interface OwnMariaDb {
  port: number;
  /** mysql://root@127.0.0.1:<port>/<database> */
  url(database: string): string;
  /** SIGTERM, wait for a clean shutdown, start again on the same data. */
  restart(downMs?: number): Promise<{ downMs: number }>;
  /** SIGKILL (a crash), then start again: InnoDB recovers the committed writes. */
  crashAndRestart(downMs?: number): Promise<{ downMs: number }>;
  stop(): Promise<void>;
}

export async function startOwnMariaDb(port: number): Promise<OwnMariaDb> {
  const dir = scratchDir('mariadb');
  const datadir = path.join(dir, 'data');
  execFileSync('mariadb-install-db', ['--no-defaults', `--datadir=${datadir}`, '--user=root', '--auth-root-authentication-method=normal', '--skip-test-db'], { stdio: 'ignore' });
  const args = [
    '--no-defaults', `--datadir=${datadir}`, `--port=${port}`, '--bind-address=127.0.0.1', `--socket=${path.join(dir, 'mysqld.sock')}`,
    `--pid-file=${path.join(dir, 'mysqld.pid')}`, `--log-error=${path.join(dir, 'error.log')}`, '--user=root', '--skip-grant-tables',
    '--skip-log-bin', '--innodb-buffer-pool-size=32M', '--innodb-log-file-size=16M', '--max-connections=200',
  ];
  const start = () => startService('mariadbd', 'mariadbd', args, port, { readyMs: 60_000 });
  let server: Service;
  try {
    server = await start();
  } catch (error) {
    removeScratch(dir);
    throw error;
  }
  const bounce = async (down: () => Promise<void>, downMs: number) => {
    const stoppedAt = Date.now();
    await down();
    const rest = downMs - (Date.now() - stoppedAt);
    if (rest > 0) await new Promise((resolve) => setTimeout(resolve, rest));
    server = await start();
    return { downMs: Date.now() - stoppedAt };
  };
  return {
    port,
    url: (database) => `mysql://root@127.0.0.1:${port}/${database}`,
    restart: (downMs = 0) => bounce(() => server.stop(30_000), downMs),
    crashAndRestart: (downMs = 0) => bounce(() => server.kill(), downMs),
    async stop() {
      await server.stop(30_000);
      removeScratch(dir);
    },
  };
}

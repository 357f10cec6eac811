// An SQLite file of the test's own in the OS temp folder, removed after.
import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface TestSqlite {
  file: string;
  url: string;
  remove(): void;
}

export function createTestSqlite(): TestSqlite {
  const file = join(tmpdir(), `faye-online-test-${process.pid}-${randomBytes(3).toString('hex')}.sqlite`);
  return {
    file,
    url: `sqlite:${file}`,
    remove() {
      rmSync(file, { force: true });
    },
  };
}

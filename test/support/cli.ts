// Runs the compiled `faye-online` command (bin/, on dist/) as a user would.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';

export const BIN = join(__dirname, '..', '..', 'bin', 'faye-online.js');

export interface Run { code: number | null; stdout: string; stderr: string }

export function cli(args: string[], env: NodeJS.ProcessEnv = {}): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { env: { PATH: process.env.PATH, ...env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => { stdout += d; });
    child.stderr.on('data', (d) => { stderr += d; });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/**
 * A failure is one line on stderr, no stack trace (besides the progress line a
 * command writes when the database is slow to answer, as a loaded machine may be).
 */
export function assertOneLineError(run: Run, pattern: RegExp): void {
  assert.notEqual(run.code, 0);
  const lines = run.stderr.trim().split('\n').filter((line) => !line.startsWith('faye-online: waiting for the database'));
  assert.equal(lines.length, 1, run.stderr);
  assert.match(lines[0], pattern);
}

// The `faye-online` command: a table of sub-commands, each in its own file.
// Errors end as one line naming the cause and the fix, never a stack trace.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline/promises';
import { isFayeOnlineError } from '../errors';
import { EXIT_FAILURE, EXIT_OK, EXIT_USAGE, usageError, type CliIo, type Command } from './command';
import { migrateCommand } from './migrate';
import { statusCommand } from './status';
import { logCommand } from './log';
import { serveCommand } from './serve';
import { webhooksCommand } from './webhooks';
import { eraseCommand, historyCommand } from './history';

const commands: readonly Command[] = [migrateCommand, serveCommand, statusCommand, logCommand, historyCommand, eraseCommand, webhooksCommand];

function globalHelp(): string {
  const width = Math.max(...commands.map((c) => c.name.length));
  return [
    'Usage: faye-online <command> [options]',
    '',
    'Commands:',
    ...commands.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
    '',
    'Every command waits at most FAYE_ONLINE_DB_TIMEOUT seconds (default 5) for',
    'the database to answer.',
    '',
    'Run `faye-online <command> --help` for the options of a command,',
    '`faye-online --version` for the version.',
  ].join('\n');
}

/** The package's version, from the package.json above this file (lib/cli in the sources, dist/lib/cli when built). */
export function packageVersion(): string {
  for (let dir = __dirname; dir !== dirname(dir); dir = dirname(dir)) {
    const file = join(dir, 'package.json');
    if (!existsSync(file)) continue;
    const pkg = JSON.parse(readFileSync(file, 'utf8')) as { name?: string; version?: string };
    if (pkg.name === 'faye-online' && pkg.version) return pkg.version;
  }
  return 'unknown';
}

/**
 * Writes lines to a stream that may be closed under us: `faye-online status |
 * head -8` closes the pipe after eight lines. What is left is dropped (the
 * reader wanted no more) instead of ending in an EPIPE stack trace.
 */
function lineWriter(stream: NodeJS.WriteStream): (line: string) => void {
  let closed = false;
  stream.on('error', () => { closed = true; });
  return (line) => {
    if (!closed) stream.write(`${line}\n`);
  };
}

async function confirmOnTerminal(question: string): Promise<boolean> {
  const prompt = createInterface({ input: process.stdin, output: process.stderr });
  try {
    return /^y(es)?$/i.test((await prompt.question(`${question} [y/N] `)).trim());
  } finally {
    prompt.close();
  }
}

function defaultIo(): CliIo {
  const interactive = process.stdin.isTTY && process.stderr.isTTY;
  return { out: lineWriter(process.stdout), err: lineWriter(process.stderr), env: process.env, ...(interactive ? { confirm: confirmOnTerminal } : {}) };
}

export async function main(argv: string[], io: CliIo = defaultIo()): Promise<number> {
  const [name, ...args] = argv;
  if (name === '--version' || name === '-v' || name === 'version') {
    io.out(packageVersion());
    return EXIT_OK;
  }
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    io.out(globalHelp());
    return name === undefined ? EXIT_USAGE : EXIT_OK;
  }
  const command = commands.find((c) => c.name === name);
  if (!command) {
    io.err(`faye-online: unknown command "${name}"; commands: ${commands.map((c) => c.name).join(', ')} (see faye-online --help)`);
    return EXIT_USAGE;
  }
  try {
    return await command.run(args, io);
  } catch (error) {
    // A value the command line gave that the library refused is a usage mistake too.
    if (isFayeOnlineError(error, 'INVALID_OPTION')) return usageError(io, command.name, oneLine(error));
    io.err(`faye-online ${command.name}: ${oneLine(error)}`);
    return EXIT_FAILURE;
  }
}

function oneLine(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  const text = message.split('\n')[0];
  return isFayeOnlineError(error) ? `${text} [${error.code}]` : text;
}

// The `faye-online` command: a table of sub-commands, each in its own file.
// Errors end as one line naming the cause and the fix, never a stack trace.
import { isFayeOnlineError } from '../errors';
import { EXIT_FAILURE, EXIT_OK, EXIT_USAGE, type CliIo, type Command } from './command';
import { migrateCommand } from './migrate';
import { statusCommand } from './status';
import { logCommand } from './log';
import { serveCommand } from './serve';

const commands: readonly Command[] = [migrateCommand, serveCommand, statusCommand, logCommand];

function globalHelp(): string {
  const width = Math.max(...commands.map((c) => c.name.length));
  return [
    'Usage: faye-online <command> [options]',
    '',
    'Commands:',
    ...commands.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
    '',
    'Run `faye-online <command> --help` for the options of a command.',
  ].join('\n');
}

const defaultIo: CliIo = {
  out: (line) => process.stdout.write(`${line}\n`),
  err: (line) => process.stderr.write(`${line}\n`),
  env: process.env,
};

export async function main(argv: string[], io: CliIo = defaultIo): Promise<number> {
  const [name, ...args] = argv;
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
    io.err(`faye-online ${command.name}: ${oneLine(error)}`);
    return EXIT_FAILURE;
  }
}

function oneLine(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  const text = message.split('\n')[0];
  return isFayeOnlineError(error) ? `${text} [${error.code}]` : text;
}

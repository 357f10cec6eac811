import { parseArgs, type ParseArgsConfig } from 'node:util';

// What a `faye-online` sub-command is: a name, a one-line summary for the
// global help, its own help text, and a run function that writes through `io`
// and returns the exit code. main.ts keeps the table of commands.
export interface CliIo {
  out(line: string): void;
  err(line: string): void;
  env: NodeJS.ProcessEnv;
}

export interface Command {
  name: string;
  summary: string;
  help: string;
  run(args: string[], io: CliIo): Promise<number>;
}

/** Exit codes: 0 done, 1 the work failed (database, schema), 2 the command line was wrong. */
export const EXIT_OK = 0;
export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;

/** A command-line mistake: one line naming it and where help is, exit code 2. */
export function usageError(io: CliIo, command: string, message: string): number {
  io.err(`faye-online ${command}: ${message} (see faye-online ${command} --help)`);
  return EXIT_USAGE;
}

/**
 * Reads a command's flags (plus -h/--help). Returns the exit code instead when
 * it printed the help or a usage error itself.
 */
export function readFlags<T extends object>(
  command: { name: string; help: string }, args: string[], options: NonNullable<ParseArgsConfig['options']>, io: CliIo,
): T | number {
  let values: Record<string, unknown>;
  try {
    values = parseArgs({ args, options: { ...options, help: { type: 'boolean', short: 'h' } } }).values;
  } catch (error) {
    return usageError(io, command.name, (error as Error).message);
  }
  if (values.help) {
    io.out(command.help);
    return EXIT_OK;
  }
  return values as T;
}

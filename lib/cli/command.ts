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

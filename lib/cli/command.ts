import { parseArgs } from 'node:util';

// What a `faye-online` sub-command is: a name, a one-line summary for the
// global help, its own help text, and a run function that writes through `io`
// and returns the exit code. main.ts keeps the table of commands.
export interface CliIo {
  out(line: string): void;
  err(line: string): void;
  env: NodeJS.ProcessEnv;
  /** Asks a yes/no question on a terminal; absent when nobody can answer (a pipe, a script). */
  confirm?(question: string): Promise<boolean>;
}

export interface Command {
  name: string;
  summary: string;
  help: string;
  run(args: string[], io: CliIo): Promise<number>;
}

/** Exit codes: 0 done, 1 the work failed or was refused (database, schema, safety), 2 the command line was wrong. */
export const EXIT_OK = 0;
export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;

/** A command-line mistake: one line naming it and where help is, exit code 2. */
export function usageError(io: CliIo, command: string, message: string): number {
  io.err(`faye-online ${command}: ${message} (see faye-online ${command} --help)`);
  return EXIT_USAGE;
}

/** Default wait for a database to answer a new connection, seconds (the driver's own is 10 s, silently). */
export const DB_TIMEOUT_SECONDS = 5;

/** FAYE_ONLINE_DB_TIMEOUT (seconds) if set to a positive number, else the default; in ms. */
export function dbTimeoutMs(env: NodeJS.ProcessEnv): number {
  const seconds = Number(env.FAYE_ONLINE_DB_TIMEOUT);
  return 1000 * (seconds > 0 ? seconds : DB_TIMEOUT_SECONDS);
}

/**
 * Awaits `work`; if it takes more than a second, first writes `line` saying
 * what is awaited (a database that does not answer would otherwise look hung).
 */
export async function withProgress<T>(write: (line: string) => void, line: string, work: Promise<T>): Promise<T> {
  const timer = setTimeout(() => write(line), 1000);
  try {
    return await work;
  } finally {
    clearTimeout(timer);
  }
}

/** The progress line of a database connection (see withProgress). */
export function waitingForDatabase(where: string, timeoutMs: number): string {
  return `faye-online: waiting for the database ${where} to answer (up to ${timeoutMs / 1000} s; FAYE_ONLINE_DB_TIMEOUT) ...`;
}

export interface FlagSpec {
  type: 'string' | 'boolean';
  /** A string flag that may be repeated; its value is then a list. */
  multiple?: boolean;
}

export type FlagValues = Record<string, string | string[] | boolean | undefined>;

export interface ParsedCommandLine<T> {
  values: T;
  positionals: string[];
}

/**
 * Reads a command's flags (plus -h/--help) and up to `maxPositionals` plain
 * arguments. Node's parser runs in its lenient mode and every mistake is
 * reported here in our own words (Node's texts talk about its own API). Returns
 * the exit code instead when it printed the help or a usage error itself.
 */
export function readCommandLine<T extends object>(
  command: { name: string; help: string }, args: string[], flags: Record<string, FlagSpec>, io: CliIo, maxPositionals = 0,
): ParsedCommandLine<T> | number {
  const { tokens } = parseArgs({ args, strict: false, allowPositionals: true, tokens: true, options: { ...flags, help: { type: 'boolean', short: 'h' } } });
  const values: FlagValues = {};
  const positionals: string[] = [];
  const fail = (message: string) => usageError(io, command.name, message);
  for (const token of tokens) {
    if (token.kind === 'option-terminator') continue;
    if (token.kind === 'positional') {
      positionals.push(token.value);
      if (positionals.length > maxPositionals) return fail(`unexpected argument "${token.value}"`);
      continue;
    }
    if (token.name === 'help') {
      io.out(command.help);
      return EXIT_OK;
    }
    const spec = flags[token.name];
    if (!spec || token.rawName.length === 2) return fail(`unknown option ${token.rawName}${suggestion(token.name, Object.keys(flags))}`);
    if (spec.type === 'boolean') {
      if (token.value !== undefined) return fail(`${token.rawName} takes no value, got "${token.value}"`);
      values[token.name] = true;
      continue;
    }
    if (token.value === undefined || (!token.inlineValue && token.value.startsWith('--'))) return fail(`${token.rawName} needs a value`);
    const previous = values[token.name];
    if (spec.multiple) values[token.name] = [...((previous as string[] | undefined) ?? []), token.value];
    else if (previous !== undefined) return fail(`${token.rawName} is given twice`);
    else values[token.name] = token.value;
  }
  return { values: values as T, positionals };
}

/** The flags-only form of readCommandLine. */
export function readFlags<T extends object>(command: { name: string; help: string }, args: string[], flags: Record<string, FlagSpec>, io: CliIo): T | number {
  const parsed = readCommandLine<T>(command, args, flags, io);
  return typeof parsed === 'number' ? parsed : parsed.values;
}

/** " (did you mean --url?)" for a flag one or two edits away from a known one, else "". */
function suggestion(name: string, known: string[]): string {
  const close = known.find((k) => editDistance(name, k) <= Math.min(2, Math.floor(k.length / 2)) || (name.length >= 3 && k.startsWith(name)));
  return close ? ` (did you mean --${close}?)` : '';
}

function editDistance(a: string, b: string): number {
  let row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const next = [i];
    for (let j = 1; j <= b.length; j++) next[j] = Math.min(row[j] + 1, next[j - 1] + 1, row[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    row = next;
  }
  return row[b.length];
}

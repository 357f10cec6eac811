// Lua scripts, declared once. Each script is a `.lua` file beside the code that
// calls it (its header comment describes KEYS and ARGV for readers of the Lua);
// its declaration here names the keys, the arguments and the results in the
// order the script uses them. `loadScripts` registers scripts with ioredis'
// defineCommand (one loader for the engine, the stores and the dashboard);
// `runScript` turns named keys and arguments into the call and the reply into
// named results, so no caller builds or decodes a script's array by position.
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type Redis from 'ioredis';

/** What a script takes and returns: Redis integers, strings, nil (null) and nested lists. */
export type ScriptValue = number | string | null | ScriptValue[];

export interface LuaScript<K extends string = string, A extends string = string, R extends string = string> {
  /** The ioredis command name; prefixed so it cannot clash on a shared connection. */
  command: string;
  /** The script's path relative to lib/ (the build copies it to dist/lib/). */
  file: string;
  /** Files of shared Lua functions (paths relative to lib/) that go before the script, e.g. events/outbox.lua. */
  prelude?: readonly string[];
  /** KEYS, in order; undefined: the caller passes their number first (a variadic script). */
  keys?: readonly K[];
  /** ARGV, in order; a script may take more (variadic) after them. */
  args: readonly A[];
  /** The reply's leading elements, by name; what follows them is `rest`. */
  results: readonly R[];
  /** Only reads: ioredis may send it to a replica (Redis Cluster scaleReads). */
  readOnly?: boolean;
}

/** Declares a script; the type parameters are inferred from the name lists. */
export function luaScript<const K extends string, const A extends string, const R extends string>(script: LuaScript<K, A, R>): LuaScript<K, A, R> {
  return script;
}

export type ScriptReply<R extends string> = Record<R, ScriptValue> & { rest: ScriptValue[] };

const sources = new Map<string, string>();

/** The script's text, from beside the compiled module or, if a build skipped copying it, from lib/. */
function source(file: string): string {
  const cached = sources.get(file);
  if (cached !== undefined) return cached;
  const candidates = [path.join(__dirname, '..', file), path.resolve(__dirname, '..', '..', '..', 'lib', file)];
  const found = candidates.find((candidate) => existsSync(candidate));
  if (!found) throw new Error(`faye-online: the Lua script ${file} is missing (looked in ${candidates.join(', ')})`);
  const text = readFileSync(found, 'utf8');
  sources.set(file, text);
  return text;
}

/** Registers each script on `redis` once (a shared connection keeps the first registration). */
export function loadScripts(redis: Redis, scripts: readonly LuaScript[]): void {
  const commands = redis as unknown as Record<string, unknown>;
  for (const script of scripts) {
    if (typeof commands[script.command] === 'function') continue;
    redis.defineCommand(script.command, {
      lua: [...(script.prelude ?? []), script.file].map(source).join('\n'),
      ...(script.keys === undefined ? {} : { numberOfKeys: script.keys.length }),
      ...(script.readOnly ? { readOnly: true } : {}),
    });
  }
}

/** Calls a loaded script with its keys and arguments by name (`extra`: variadic arguments after the declared ones). */
export async function runScript<K extends string, A extends string, R extends string>(
  redis: Redis, script: LuaScript<K, A, R>, keys: Record<K, string>, args: Record<A, ScriptValue>, extra: readonly ScriptValue[] = [],
): Promise<ScriptReply<R>> {
  const call = (redis as unknown as Record<string, (...values: ScriptValue[]) => Promise<unknown>>)[script.command];
  if (typeof call !== 'function') throw new Error(`faye-online: the Lua script ${script.file} is not loaded (loadScripts)`);
  return decodeReply(script, await call.apply(redis, scriptArguments(script, keys, args, extra)));
}

/** The call's positional values (KEYS then ARGV), for a pipeline or a variadic script, where runScript cannot call. */
export function scriptArguments<K extends string, A extends string>(
  script: LuaScript<K, A, string>, keys: Record<K, string>, args: Record<A, ScriptValue>, extra: readonly ScriptValue[] = [],
): ScriptValue[] {
  return [...(script.keys ?? []).map((key) => keys[key]), ...script.args.map((arg) => args[arg]), ...extra];
}

/** A script's reply as named results: a list reply's leading elements, or a single value as the first result. */
export function decodeReply<R extends string>(script: LuaScript<string, string, R>, reply: unknown): ScriptReply<R> {
  const list = (Array.isArray(reply) ? reply : [reply]) as ScriptValue[];
  const named = Object.fromEntries(script.results.map((name, i) => [name, list[i]])) as Record<R, ScriptValue>;
  return { ...named, rest: list.slice(script.results.length) };
}

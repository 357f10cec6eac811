// Servers a topology test starts for itself (HAProxy, Redis, Sentinel,
// MariaDB), each in a process group of its own on ports of the 27000-27999
// range, so that the shared MariaDB and Redis are never touched. That range lies
// below Linux's ephemeral ports (32768-60999 by default): an outgoing connection
// of the test itself once held a sentinel's port in the 47000s, and the sentinel
// could not bind it. Every group is killed when the test process ends, however
// it ends.
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

export interface Service {
  name: string;
  port: number;
  child: ChildProcess;
  running(): boolean;
  /** SIGKILL to the whole group: a crash. Resolves once it is gone. */
  kill(): Promise<void>;
  /** SIGTERM to the whole group (SIGKILL after `graceMs`). Resolves once it is gone. */
  stop(graceMs?: number): Promise<void>;
}

const groups = new Set<ChildProcess>();
process.on('exit', () => {
  for (const child of groups) signalGroup(child, 'SIGKILL');
});

function signalGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  try {
    process.kill(-child.pid!, signal);
  } catch {
    // already gone
  }
}

/** A directory of the test's own under the system's temp folder, removed by `removeScratch`. */
export function scratchDir(prefix: string): string {
  return mkdtempSync(path.join(os.tmpdir(), `faye-online-${prefix}-`));
}

export function removeScratch(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}

export function writeConfig(dir: string, name: string, text: string): string {
  const file = path.join(dir, name);
  writeFileSync(file, text);
  return file;
}

/** Whether something accepts TCP connections on 127.0.0.1:port. */
export function answers(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(500, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

async function until(check: () => Promise<boolean>, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`${what} within ${ms} ms`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** The kernel's range of ports for outgoing connections, when it can be read. */
function ephemeralPorts(): [number, number] | undefined {
  try {
    const [low, high] = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/).map(Number);
    return low! > 0 && high! >= low! ? [low!, high!] : undefined;
  } catch {
    return undefined;
  }
}

/** Starts `command` in a group of its own and waits until it answers on `port`. */
export async function startService(name: string, command: string, args: string[], port: number, options: { log?: string; readyMs?: number } = {}): Promise<Service> {
  const ephemeral = ephemeralPorts();
  if (ephemeral && port >= ephemeral[0] && port <= ephemeral[1]) {
    throw new Error(`${name}: port ${port} lies in this machine's range of outgoing ports (${ephemeral[0]}-${ephemeral[1]}, net.ipv4.ip_local_port_range), where any connection may hold it; give the test a port outside it`);
  }
  if (await answers(port)) throw new Error(`${name}: port ${port} is already taken`);
  const output: string[] = [];
  const child = spawn(command, args, { detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  groups.add(child);
  let spawnError: Error | undefined;
  child.once('error', (error) => {
    spawnError = error;
  });
  for (const stream of [child.stdout!, child.stderr!]) {
    stream.on('data', (chunk: Buffer) => {
      output.push(chunk.toString());
      if (output.length > 200) output.shift();
    });
  }
  const exited = Promise.race([once(child, 'exit'), once(child, 'error')]).then(() => {
    groups.delete(child);
  });
  const running = () => child.exitCode === null && child.signalCode === null;
  const stopWith = async (signal: NodeJS.Signals, graceMs: number) => {
    if (!running()) return;
    signalGroup(child, signal);
    const timer = setTimeout(() => signalGroup(child, 'SIGKILL'), graceMs);
    await exited;
    clearTimeout(timer);
  };
  try {
    await until(async () => {
      if (spawnError) throw new Error(`${name}: could not run ${command} (${spawnError.message}); install it (see docs/production.md, "Running the topology tests")`);
      if (!running()) throw new Error(`${name} exited (code ${child.exitCode}): ${output.join('').slice(-2000)}`);
      return answers(port);
    }, options.readyMs ?? 20_000, `${name} did not answer on port ${port}`);
  } catch (error) {
    await stopWith('SIGKILL', 0);
    throw error;
  }
  return {
    name,
    port,
    child,
    running,
    kill: () => stopWith('SIGKILL', 0),
    stop: (graceMs = 10_000) => stopWith('SIGTERM', graceMs),
  };
}

/** Stops every service given, whatever state each is in. */
export async function stopAll(services: Array<Service | undefined>): Promise<void> {
  await Promise.all(services.map((service) => service?.stop().catch(() => undefined)));
}

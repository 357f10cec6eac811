// HAProxy in front of a cluster's processes: round robin per request, no
// stickiness (a long-polling page's requests hop between processes; a
// WebSocket stays on the process it opened on), and its CSV statistics.
import { scratchDir, removeScratch, startService, writeConfig, type Service } from './services';

export interface LoadBalancer {
  /** The Faye endpoint behind the balancer. */
  url: string;
  /** Requests each backend process received so far, by server name. */
  requestsPerServer(): Promise<Record<string, number>>;
  stop(): Promise<void>;
}

export async function startHaproxy(options: { port: number; statsPort: number; backends: Array<{ name: string; port: number }> }): Promise<LoadBalancer> {
  const dir = scratchDir('haproxy');
  const servers = options.backends.map((b) => `  server ${b.name} 127.0.0.1:${b.port}`).join('\n');
  const config = writeConfig(dir, 'haproxy.cfg', `
global
  maxconn 4096

defaults
  mode http
  timeout connect 2s
  # Longer than a held /meta/connect (Faye's timeout, 10 s by default).
  timeout client 30s
  timeout server 30s
  # An open WebSocket.
  timeout tunnel 1h

frontend faye
  bind 127.0.0.1:${options.port}
  default_backend presence

backend presence
  # Every request is balanced on its own: no cookie, no source hashing,
  # no preference for the server the connection used last.
  balance roundrobin
${servers}

frontend stats
  bind 127.0.0.1:${options.statsPort}
  stats enable
  stats uri /stats
`);
  let service: Service;
  try {
    service = await startService('haproxy', 'haproxy', ['-f', config, '-db'], options.port);
  } catch (error) {
    removeScratch(dir);
    throw error;
  }
  return {
    url: `http://127.0.0.1:${options.port}/faye`,
    async requestsPerServer() {
      const csv = await (await fetch(`http://127.0.0.1:${options.statsPort}/stats;csv`)).text();
      const [header, ...rows] = csv.replace(/^# /, '').trim().split('\n').map((line) => line.split(','));
      const column = (name: string) => header!.indexOf(name);
      const result: Record<string, number> = {};
      for (const row of rows) {
        if (row[column('pxname')] === 'presence' && row[column('svname')] !== 'BACKEND') result[row[column('svname')]!] = Number(row[column('stot')]);
      }
      return result;
    },
    async stop() {
      await service.stop();
      removeScratch(dir);
    },
  };
}

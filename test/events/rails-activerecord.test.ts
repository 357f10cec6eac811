// needs: mysql, redis
// The Rails snippet of docs/events.md, exactly as printed, run by Ruby with
// ActiveRecord (mysql2) against a database that a faye-online server with
// events on wrote while real Faye clients came and went: its answers are the
// server's own history answers. Where Ruby, ActiveRecord or mysql2 is missing
// (Debian: ruby-activerecord ruby-mysql2, which .ci/run installs) the test is
// skipped and says so.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { MYSQL_HOST, MYSQL_PASSWORD, MYSQL_PORT, MYSQL_USER } from '../support/mariadb';
import { auth, eventually, onlineClient, startPresenceServer, type PresenceServer, type TestClient } from '../support/presence-server';
import { sleep } from '../support/wait';

const probe = spawnSync('ruby', ['-e', 'require "active_record"; require "mysql2"'], { encoding: 'utf8' });
const skip = probe.status === 0 ? false : 'Ruby with ActiveRecord and mysql2 is not installed (Debian: apt-get install ruby-activerecord ruby-mysql2), so the Rails snippet of docs/events.md was not run';

function snippet(): string {
  const doc = readFileSync(join(__dirname, '..', '..', 'docs', 'events.md'), 'utf8');
  const match = /<!-- rails-events-snippet -->\n```ruby\n([\s\S]*?)```\n<!-- \/rails-events-snippet -->/.exec(doc);
  assert.ok(match, 'docs/events.md has the marked Ruby snippet');
  return match[1];
}

describe('Rails reads the events with ActiveRecord (the snippet of docs/events.md)', { skip }, () => {
  let server: PresenceServer;
  const clients: TestClient[] = [];
  const room = `/rails/events/room${process.pid}`;
  const moments: number[] = [];
  before(async () => {
    server = await startPresenceServer('mysql+redis', { timeout: 1, gc: 1, events: { drainInterval: 0.1 } });
    const connect = async (uid: number) => {
      const client = onlineClient(server.url, auth(uid, `user${uid}`, room, `${room}/lesson`));
      clients.push(client);
      await client.connected();
      await server.handle.settled();
      return client;
    };
    const mark = async () => {
      await sleep(30);
      moments.push(Date.now());
      await sleep(30);
    };
    await mark();
    const a = await connect(470901);
    await mark();
    const b = await connect(470902);
    await mark();
    await a.disconnect();
    await server.handle.settled();
    await mark();
    await connect(470901);
    await connect(470903);
    await mark();
    await b.disconnect();
    await server.handle.settled();
    await mark();
    await eventually(async () => (await server.query<{ n: number }>(`SELECT COUNT(*) AS n FROM faye_online_events WHERE channel = '${room}'`))[0].n >= 7, 10_000, 'drained');
  });
  after(async () => {
    await Promise.all(clients.map((c) => c.disconnect().catch(() => undefined)));
    await server.close();
  });

  test('present_at, attendance and last_seen give the server\'s answers', async () => {
    const driver = `
require "active_record"
require "json"
ActiveRecord::Base.establish_connection(adapter: "mysql2", host: ENV["DB_HOST"], port: ENV["DB_PORT"].to_i, username: ENV["DB_USER"], password: ENV["DB_PASSWORD"], database: ENV["DB_NAME"])
${snippet()}
moments = JSON.parse(ENV["MOMENTS"]).map { |ms| Time.at(ms / 1000r) }
room = ENV["ROOM"]
print JSON.generate(
  present: moments.map { |t| FayeOnlineEvent.present_at(room, t) },
  attendance: FayeOnlineEvent.attendance(room, moments.first, moments.last).sort.to_h,
  last_seen: [470901, 470902, 470903, 470999].map { |uid| FayeOnlineEvent.last_seen(uid)&.then { |t| (t.to_r * 1000).to_i } },
)`;
    const run = spawnSync('ruby', ['-e', driver], {
      encoding: 'utf8',
      env: { ...process.env, DB_HOST: MYSQL_HOST, DB_PORT: String(MYSQL_PORT), DB_USER: MYSQL_USER, DB_PASSWORD: MYSQL_PASSWORD, DB_NAME: server.db!.name, ROOM: room, MOMENTS: JSON.stringify(moments) },
    });
    assert.equal(run.status, 0, run.stderr);
    const ruby = JSON.parse(run.stdout) as { present: number[][]; attendance: Record<string, number>; last_seen: Array<number | null> };

    const present = await Promise.all(moments.map((ms) => server.handle.presentAt(room, new Date(ms))));
    assert.deepEqual(ruby.present, present);
    assert.deepEqual(present, [[], [470901], [470901, 470902], [470902], [470902, 470901, 470903], [470901, 470903]], 'and the story as it happened');
    const attendance = await server.handle.attendance(room, new Date(moments[0]), new Date(moments[moments.length - 1]));
    assert.deepEqual(ruby.attendance, Object.fromEntries(attendance.map((u) => [String(u.uid), u.seconds]).sort()));
    const rows = await server.query<{ user_id: number; m: number }>(`SELECT user_id, MAX(occurred_ms) AS m FROM faye_online_events WHERE user_id IS NOT NULL GROUP BY user_id`);
    const latest = (uid: number) => {
      const row = rows.find((r) => Number(r.user_id) === uid);
      return row ? Number(row.m) : null;
    };
    assert.deepEqual(ruby.last_seen, [latest(470901), latest(470902), latest(470903), null]);
    assert.equal((await server.handle.lastSeen(470902)).at?.getTime(), latest(470902), 'the user who left: the handle says the same');
  });
});

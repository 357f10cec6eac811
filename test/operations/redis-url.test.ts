// The Redis URL forms of the `redis` option and REDIS_URL: one Redis, or a
// primary found through Sentinel.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import Redis from 'ioredis';
import { isRedisUrl, openRedis, sentinelOptions } from '../../lib/stores/redis-connection';
import { redactUrl } from '../../lib/log';

describe('redis+sentinel:// URLs', () => {
  it('name the sentinels, the master and the database', () => {
    assert.deepEqual(sentinelOptions('redis+sentinel://10.0.0.1:26379,10.0.0.2:26380,sentinel-3/mymaster?db=1'), {
      sentinels: [{ host: '10.0.0.1', port: 26379 }, { host: '10.0.0.2', port: 26380 }, { host: 'sentinel-3', port: 26379 }],
      name: 'mymaster',
      db: 1,
    });
  });

  it('carry the nodes\' credentials in the user part and the sentinels\' in the query', () => {
    assert.deepEqual(sentinelOptions('redis+sentinel://app:s%40cret@h:1/m?sentinelPassword=x&sentinelUsername=y'), {
      sentinels: [{ host: 'h', port: 1 }],
      name: 'm',
      username: 'app',
      password: 's@cret',
      sentinelPassword: 'x',
      sentinelUsername: 'y',
    });
    assert.deepEqual(sentinelOptions('redis+sentinel://:pw@h:1/m').password, 'pw');
  });

  it('refuse a missing master, a bad host, an unknown parameter or a bad db, naming the option and never the password', () => {
    for (const [url, why] of [
      ['redis+sentinel://h:1', /master name/],
      ['redis+sentinel://h:1,:2/m', /sentinel ":2"/],
      ['redis+sentinel://h:1/m?database=1', /unknown parameter "database"/],
      ['redis+sentinel://u:topsecret@h:1/m?db=one', /db that is not a non-negative integer/],
    ] as const) {
      assert.throws(() => sentinelOptions(url), (error: Error & { code?: string }) => {
        assert.equal(error.code, 'INVALID_OPTION');
        assert.match(error.message, /^redis: /);
        assert.match(error.message, why);
        assert.doesNotMatch(error.message, /topsecret/);
        return true;
      });
    }
  });

  it('are Redis URLs, as redis:// and rediss:// are; host:port alone is not', () => {
    assert.deepEqual(['redis://h:1/2', 'rediss://h', 'redis+sentinel://h/m', 'h:6379', 'http://h'].map(isRedisUrl), [true, true, true, false, false]);
  });

  it('lose their passwords in logs', () => {
    assert.equal(redactUrl('redis+sentinel://app:pw@a:1,b:2/m?db=1&sentinelPassword=spw'), 'redis+sentinel://app:***@a:1,b:2/m?db=1&sentinelPassword=***');
  });
});

describe('connections opened from the redis option', () => {
  it('auto-pipeline unless the app says otherwise; an app\'s own instance is used as it is', async () => {
    const opened = [
      openRedis('redis://127.0.0.1:1', { lazyConnect: true }),
      openRedis({ host: '127.0.0.1', port: 1, lazyConnect: true }),
      openRedis({ host: '127.0.0.1', port: 1, lazyConnect: true, enableAutoPipelining: false }),
    ];
    const own = new Redis({ host: '127.0.0.1', port: 1, lazyConnect: true });
    const given = openRedis(own);
    try {
      assert.deepEqual(opened.map(({ redis, owned }) => [redis.options.enableAutoPipelining, owned]), [[true, true], [true, true], [false, true]]);
      assert.equal(given.redis, own);
      assert.equal(given.owned, false);
      assert.equal(own.options.enableAutoPipelining, false);
    } finally {
      for (const { redis } of [...opened, given]) redis.disconnect();
    }
  });
});

// Every Redis key and topic, pinned byte for byte: the gem's and faye-redis'
// are shared with programs we do not control, and ours are read by servers of
// other versions in one cluster. A change here is a change of the layout.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { EngineKeys, PresenceKeys } from '../../lib/stores/keys';

describe('Redis keys', () => {
  it('the gem\'s presence keys', () => {
    const keys = new PresenceKeys('faye');
    assert.equal(keys.channel('/classes/4'), '/faye/uid_to_clientIds/classes/4');
    assert.equal(keys.auth('sqq4oxlwhj84zw92n0e592j8iq989yy'), '/faye/clientId_auth/sqq4oxlwhj84zw92n0e592j8iq989yy');
    assert.equal(keys.status('sqq4oxlwhj84zw92n0e592j8iq989yy'), '/faye/clientId_status/sqq4oxlwhj84zw92n0e592j8iq989yy');
  });

  it('our own presence keys, beside the gem\'s', () => {
    const keys = new PresenceKeys('faye');
    assert.equal(keys.prefix, '/faye/');
    assert.equal(keys.all, '/faye/*');
    assert.equal(keys.seq('/classes/4'), '/faye/presence_seq/classes/4');
    assert.equal(keys.leaving('/classes/4'), '/faye/leaving/classes/4');
    assert.equal(keys.engaged('/lessons/9'), '/faye/engaged/lessons/9');
    assert.equal(keys.engagementReport('abc'), '/faye/clientId_engagement/abc');
    assert.equal(keys.arrived('/lessons/9'), '/faye/arrived/lessons/9');
    assert.equal(keys.departed('/lessons/9'), '/faye/departed/lessons/9');
    assert.equal(keys.resumed('/rooms/1'), '/faye/resumed/rooms/1');
    assert.equal(keys.lock('reconcile'), '/faye/locks/reconcile');
    assert.equal(keys.outbox, '/faye/events_outbox');
    assert.equal(keys.outboxDropped, '/faye/events_outbox_dropped');
    assert.equal(keys.processes, '/faye/faye_online/processes');
  });

  it('faye-redis\' engine layout, without the leading slash', () => {
    const keys = new EngineKeys('faye');
    assert.equal(keys.prefix, 'faye/');
    assert.equal(keys.all, 'faye/*');
    assert.equal(keys.clients, 'faye/clients');
    assert.equal(keys.clientsPrefix, 'faye/clients/');
    assert.equal(keys.clientChannels('abc'), 'faye/clients/abc/channels');
    assert.equal(keys.clientMessages('abc'), 'faye/clients/abc/messages');
    assert.equal(keys.channelsPrefix, 'faye/channels');
    assert.equal(keys.channel('/classes/4'), 'faye/channels/classes/4');
    assert.equal(keys.gcLock, 'faye/locks/gc');
    assert.deepEqual(keys.topics, { messages: 'faye/notifications/messages', close: 'faye/notifications/close', flush: 'faye/notifications/flush' });
  });
});

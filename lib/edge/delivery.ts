// Who receives a published message. Faye delivers a message on /a/b to the
// subscribers of /a/b and of every pattern that matches it (/a/*, /a/**, /**),
// and an app's authorizeSubscription is asked about the pattern, not about the
// channels it will match: a rule written for "<room>/user_list" never sees the
// "/**" that receives every room's list. So, for the channels this package
// gives a meaning to, delivery is narrowed where the message is published:
//
// - /faye_online/* carries the pages' reports to the server (before_leave,
//   engagement); the extension has handled them by the time Faye publishes,
//   and they reach no subscriber at all.
// - A room's lists (<room>/user_list, <room>/presence) go to the subscribers of
//   that exact channel only, when the app restricts subscriptions: each of
//   them was asked about by name. Without a rule every subscription is
//   allowed, and patterns keep receiving them as in the gem.
//
// The narrowing happens in the process that publishes, before the engine
// fans the message out, so it holds across a cluster.
import type { EngineProxy } from 'faye';
import { INTERNAL_PREFIX } from '../protocol';
import { isServerOwnedChannel } from './extension';

export function narrowDelivery(proxy: EngineProxy, { exactListsOnly }: { exactListsOnly: boolean }): void {
  const publish = proxy.publish.bind(proxy);
  proxy.publish = (message) => {
    const channel = message.channel;
    if (channel.startsWith(INTERNAL_PREFIX)) return;
    if (exactListsOnly && isServerOwnedChannel(channel)) return proxy._engine.publish(message, [channel]);
    return publish(message);
  };
}

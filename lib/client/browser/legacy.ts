// The script served at /faye-online.js: a drop-in for the Ruby gem's
// faye-online.js, without its jQuery requirement. Load it after Faye's own
// browser client (<mount>/client.js), which defines window.Faye.
//
//   Faye.init_online_client({ faye_url, client_opts, auth_opts, engagement_opts })  the gem's API, returns the Faye client
//   FayeOnline.connect({ url, room, timeChannel, user, ... })      the typed API, window.Faye implied
import { FayeOnlineError, isFayeOnlineError } from '../../errors';
import { createOnlineClient, defaultPageLifecycle, readFayeModule, startOnlineClient } from '../online-client';
import type { FayeClient, OnlineClient, OnlineClientOptions } from '../types';
import { readClientOptions, readEngagement, readFayeUrl, readIdentity } from '../validate';
import { identityFromLegacyAuth, LEGACY_FIELD_NAMES, type LegacyAuthOptions } from '../wire';

interface LegacyOptions {
  faye_url?: unknown;
  client_opts?: unknown;
  auth_opts?: LegacyAuthOptions;
  /** `{ idle_after: ms }`, or false to report no engagement. */
  engagement_opts?: unknown;
}

type FayeGlobal = { Client?: unknown; init_online_client?: (options: LegacyOptions) => FayeClient };

declare global {
  interface Window {
    Faye?: FayeGlobal;
    FayeOnline?: typeof FayeOnline;
  }
}

const MISSING_FAYE = "load Faye's browser client (<script src=\"/faye/client.js\">) before faye-online.js";

function initOnlineClient(options: LegacyOptions): FayeClient {
  if (typeof options !== 'object' || options === null) {
    throw new FayeOnlineError('INVALID_OPTION', 'faye-online: Faye.init_online_client needs { faye_url, client_opts, auth_opts }');
  }
  const authOptions = options.auth_opts;
  if (typeof authOptions !== 'object' || authOptions === null) {
    throw new FayeOnlineError('INVALID_AUTH', 'faye-online: auth_opts is missing; pass { room_channel, time_channel, current_user: { uid, uname } }');
  }
  return startOnlineClient({
    Faye: readFayeModule(window.Faye, MISSING_FAYE),
    url: readFayeUrl(options.faye_url, 'faye_url'),
    clientOptions: readClientOptions(options.client_opts, 'client_opts'),
    identity: readIdentity(identityFromLegacyAuth(authOptions), LEGACY_FIELD_NAMES),
    pageLifecycle: defaultPageLifecycle(),
    engagement: readEngagement(options.engagement_opts, { option: 'engagement_opts', idleAfter: 'idle_after' }),
  }).client;
}

function connect(options: Omit<OnlineClientOptions, 'Faye'>): OnlineClient {
  return createOnlineClient({ ...options, Faye: readFayeModule(window.Faye, MISSING_FAYE) });
}

const FayeOnline = { connect, createOnlineClient, isFayeOnlineError, FayeOnlineError };
window.FayeOnline = FayeOnline;

if (window.Faye) {
  window.Faye.init_online_client = initOnlineClient;
} else {
  // The gem threw here too; a clear console error beats a silent page.
  throw new FayeOnlineError('INVALID_OPTION', `faye-online: window.Faye is missing; ${MISSING_FAYE}`);
}

// The narrow part of the `faye` package (which ships no types) that faye-online uses.
declare module 'faye' {
  import type { Server as HttpServer, IncomingMessage } from 'node:http';

  export interface BayeuxMessage {
    channel: string;
    clientId?: string;
    id?: string;
    data?: unknown;
    error?: string;
    successful?: boolean;
    subscription?: string | string[];
    connectionType?: string;
    ext?: Record<string, unknown>;
    advice?: Record<string, unknown>;
    [key: string]: unknown;
  }

  export type Callback<T> = (value: T) => void;

  // Faye passes the HTTP request (null for in-process messages) when the
  // function declares three parameters, and only (message, callback) otherwise.
  type ExtensionFn =
    | ((message: BayeuxMessage, request: IncomingMessage | null, callback: Callback<BayeuxMessage>) => void)
    | ((message: BayeuxMessage, callback: Callback<BayeuxMessage>) => void);

  export interface Extension {
    incoming?: ExtensionFn;
    outgoing?: ExtensionFn;
    added?(host: unknown): void;
    removed?(host: unknown): void;
  }

  export interface Subscription extends PromiseLike<void> {
    cancel(): void;
    unsubscribe(): void;
    withChannel(cb: (channel: string, message: unknown) => void): Subscription;
  }

  export interface Publication extends PromiseLike<void> {}

  export class Client {
    constructor(url: string, options?: { timeout?: number; interval?: number; retry?: number; endpoints?: Record<string, string>; [key: string]: unknown });
    addExtension(extension: Extension): void;
    removeExtension(extension: Extension): void;
    disable(feature: string): void;
    setHeader(name: string, value: string): void;
    handshake(callback?: () => void, context?: unknown): void;
    connect(callback?: () => void, context?: unknown): void;
    disconnect(): Promise<void> | void;
    subscribe(channel: string | string[], callback?: (message: any) => void): Subscription;
    unsubscribe(channel: string, callback?: (message: any) => void): void;
    publish(channel: string, data: unknown, options?: { attempts?: number; deadline?: number }): Publication;
    bind(event: string, listener: (...args: any[]) => void): void;
    getClientId(): string | undefined;
    getState(): string;
    _dispatcher: any;
  }

  /** Faye's engine proxy (src/engines/proxy.js). */
  export interface EngineProxy {
    timeout: number;
    interval: number;
    _engine: any;
    bind(event: string, listener: (...args: any[]) => void, context?: unknown): void;
    unbind(event: string, listener: (...args: any[]) => void, context?: unknown): void;
    trigger(event: string, ...args: unknown[]): void;
    hasConnection(clientId: string): boolean;
    flushConnection(clientId: string, close?: boolean): void;
    clientExists(clientId: string, callback: (exists: boolean) => void, context?: unknown): void;
    destroyClient(clientId: string, callback?: () => void, context?: unknown): void;
    ping(clientId: string): void;
    deliver(clientId: string, messages: unknown[]): boolean;
    publish(message: BayeuxMessage): void;
    close(): void;
  }

  export interface NodeAdapterOptions {
    mount?: string;
    timeout?: number;
    ping?: number;
    engine?: Record<string, unknown>;
    extensions?: Extension[];
  }

  export class NodeAdapter {
    constructor(options?: NodeAdapterOptions);
    attach(server: HttpServer): void;
    addExtension(extension: Extension): void;
    removeExtension(extension: Extension): void;
    getClient(): Client;
    bind(event: string, listener: (...args: any[]) => void): void;
    unbind(event: string, listener: (...args: any[]) => void): void;
    close(): void;
    /** The in-process client, once getClient() made it. */
    _client?: Client;
    _server: { _engine: EngineProxy; process(messages: unknown, request: unknown, callback: (replies: unknown[]) => void): void };
  }

  const Faye: { Client: typeof Client; NodeAdapter: typeof NodeAdapter; logger?: unknown };
  // The same names as types on the default export, so that `import faye from
  // 'faye'` can say `faye.Client` and `faye.BayeuxMessage`.
  type ClientType = Client;
  type NodeAdapterType = NodeAdapter;
  type MessageType = BayeuxMessage;
  type ExtensionType = Extension;
  namespace Faye {
    type Client = ClientType;
    type NodeAdapter = NodeAdapterType;
    type BayeuxMessage = MessageType;
    type Extension = ExtensionType;
  }
  export default Faye;
}

declare module 'faye/src/util/constants' {
  /** The connection types a Faye server serves (it refuses a /meta/connect naming another). */
  export const CONNECTION_TYPES: string[];
}

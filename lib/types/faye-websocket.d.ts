// The part of faye-websocket (a dependency of faye) that the adversarial tests and bench:attack use.
declare module 'faye-websocket' {
  class Client {
    constructor(url: string);
    on(event: 'open', listener: () => void): void;
    on(event: 'message', listener: (event: { data: string }) => void): void;
    on(event: 'close' | 'error', listener: (event: unknown) => void): void;
    send(data: string): boolean;
    close(): void;
  }
  const WebSocket: { Client: typeof Client };
  export default WebSocket;
}

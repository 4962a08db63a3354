/**
 * A TCP proxy for tests of interrupted transfers (test/e2e/uploads.e2e.test.ts): forwards bytes both
 * ways and counts what the client sent; drops the connection carrying a chosen byte; holds new
 * connections while the server behind it restarts.
 */
import { createServer, type Server, type Socket, connect as tcpConnect } from "node:net";

/**
 * Between the client and `wrangler dev`: forwards bytes both ways and counts what the client sent.
 * `cutAt` lists totals (bytes from the client, all connections) at which the connection carrying
 * that byte is reset; `hold` makes new connections wait (the server being restarted).
 */
export class CuttingProxy {
  readonly server: Server;
  port = 0;
  fromClient = 0;
  cutAt: number[] = [];
  cutsDone = 0;
  hold: Promise<void> | undefined;
  /** Upload bandwidth (bytes/s) the client gets, as over a phone's link; unlimited when 0. */
  rate = 0;
  private readonly sockets = new Set<Socket>();
  private readonly upstreamPort: () => number;

  constructor(upstreamPort: () => number) {
    this.upstreamPort = upstreamPort;
    this.server = createServer((client) => void this.accept(client));
  }

  async listen() {
    await new Promise<void>((resolve) => this.server.listen(0, "127.0.0.1", resolve));
    const address = this.server.address();
    this.port = typeof address === "object" && address ? address.port : 0;
    return `http://127.0.0.1:${this.port}`;
  }

  /** Resets every open connection (both sides). */
  dropAll() {
    for (const socket of this.sockets) socket.resetAndDestroy();
  }

  close() {
    this.dropAll();
    return new Promise((r) => this.server.close(r));
  }

  private async accept(client: Socket) {
    client.pause();
    this.sockets.add(client);
    client.on("error", () => undefined);
    client.on("close", () => this.sockets.delete(client));
    if (this.hold) await this.hold;
    if (client.destroyed) return;
    const upstream = tcpConnect(this.upstreamPort(), "127.0.0.1");
    this.sockets.add(upstream);
    upstream.on("error", () => undefined);
    upstream.on("close", () => {
      this.sockets.delete(upstream);
      if (!client.destroyed) client.resetAndDestroy();
    });
    client.on("close", () => {
      if (!upstream.destroyed) upstream.resetAndDestroy();
    });
    upstream.on("connect", () => client.resume());
    upstream.on("data", (chunk) => client.write(chunk));
    client.on("data", (chunk: Buffer) => {
      const cut = this.cutAt[0];
      this.fromClient += chunk.length;
      if (cut !== undefined && this.fromClient >= cut) {
        // The connection drops at this byte: what came before it reaches the server, nothing after.
        this.cutAt.shift();
        this.cutsDone++;
        const keep = chunk.length - (this.fromClient - cut);
        client.resetAndDestroy();
        upstream.write(chunk.subarray(0, Math.max(0, keep)), () => upstream.resetAndDestroy());
        return;
      }
      const flowing = upstream.write(chunk);
      if (this.rate > 0) {
        // The link's pace: the next bytes come once this chunk has had its time on the wire.
        client.pause();
        setTimeout(() => (flowing ? client.resume() : upstream.once("drain", () => client.resume())), (chunk.length / this.rate) * 1000);
      } else if (!flowing) {
        client.pause();
        upstream.once("drain", () => client.resume());
      }
    });
  }
}

// A loopback proxy in front of the Manager: answers the first `failures` requests with 503 +
// Retry-After, forwards the rest byte for byte, and counts the client connections still open
// (so a test can see a socket close after an abort or a `break`).
import net from "node:net";

export class FaultProxy {
  constructor(upstream, failures = 0) {
    const u = new URL(upstream);
    this.upstream = { host: u.hostname, port: Number(u.port) };
    this.failures = failures;
    this.seen = 0;
    this.open = new Set();
    this.server = net.createServer((conn) => this.handle(conn));
  }

  async start() {
    await new Promise((r) => this.server.listen(0, "127.0.0.1", r));
    this.url = `http://127.0.0.1:${this.server.address().port}`;
    return this;
  }

  handle(conn) {
    this.open.add(conn);
    conn.on("close", () => this.open.delete(conn));
    conn.on("error", () => {});
    let data = Buffer.alloc(0);
    const onData = (chunk) => {
      data = Buffer.concat([data, chunk]);
      const end = data.indexOf("\r\n\r\n");
      if (end < 0) return;
      const head = data.subarray(0, end).toString("latin1");
      const m = /\r\ncontent-length:\s*(\d+)/i.exec(head);
      const length = m ? Number(m[1]) : 0;
      if (data.length < end + 4 + length) return;
      conn.off("data", onData);
      const rest = data.subarray(end + 4 + length);
      const request = data.subarray(0, end + 4 + length);
      data = rest;
      this.seen += 1;
      if (this.seen <= this.failures) {
        const body = '{"error":{"code":"workload_not_ready","message":"injected"}}';
        conn.write(
          "HTTP/1.1 503 Service Unavailable\r\nRetry-After: 0.05\r\nContent-Type: application/json\r\n" +
            `Content-Length: ${body.length}\r\n\r\n${body}`,
        );
        conn.on("data", onData);
        if (rest.length) onData(Buffer.alloc(0));
        return;
      }
      // Forward this request on its own upstream connection, closed after the answer.
      const lines = head.split("\r\n").filter((l) => !/^connection:/i.test(l));
      const up = net.connect(this.upstream, () => {
        up.write(lines.join("\r\n") + "\r\nConnection: close\r\n\r\n");
        up.write(request.subarray(end + 4));
      });
      up.on("error", () => conn.destroy());
      up.pipe(conn);
      conn.on("close", () => up.destroy());
    };
    conn.on("data", onData);
  }

  /** Resolves once no client connection is open (or rejects after `ms`). */
  async drained(ms = 10_000) {
    const deadline = Date.now() + ms;
    while (this.open.size > 0) {
      if (Date.now() > deadline) throw new Error(`${this.open.size} client connection(s) still open`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  close() {
    for (const c of this.open) c.destroy();
    this.server.close();
  }
}

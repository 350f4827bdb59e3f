/**
 * --network=host: the application's TCP and UDP sockets are host sockets the Sentry drives, so
 * a server in the sandbox is reached on the host's loopback by a native client, as the same
 * program (tests/progs/net_peer.c, servers only) is when it runs natively.
 */

import assert from "node:assert/strict";
import { compileProg, IS_ROOT, makeBundle, makeRoot, readOr } from "./harness.ts";
import { bindUnix, listenFd, SOCK_STREAM, unixSocket } from "../host/socket.ts";
import { closeFd } from "../host/libc.ts";
import { landlockAbi } from "../host/landlock.ts";
import { reachServers, run } from "./net_peer.ts";
import { probeTests } from "./probe.ts";

Deno.test({
  name: "--network=host: a TCP and a UDP server in the sandbox answer on the host's loopback, " +
    "as natively",
  ignore: !IS_ROOT,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const prog = await compileProg("net_peer");
    const port = 30000 + Math.floor(Math.random() * 10000);
    const args = ["127.0.0.1", String(port), "server-only"];

    const nativeRun = run(prog, ...args);
    const native = await reachServers("127.0.0.1", port);
    const nativeOut = (await nativeRun).out;

    const root = await makeRoot();
    const bundle = await makeBundle({ args: ["/net_peer", ...args], files: { "net_peer": prog } });
    try {
      const sandboxRun = root.runsc(["run", "--bundle", bundle.dir, `host-${port}`], {
        timeoutMs: 120_000,
      }, ["--network=host"]);
      const sandboxed = await reachServers("127.0.0.1", port);
      const r = await sandboxRun;
      assert.equal(native.tcpClientGot, "echo: hello from the peer");
      assert.match(native.tcpClientBulk, /^2097152 bytes, hash \w+, 0 wrong$/);
      assert.deepEqual(sandboxed, native);
      assert.equal(r.stdout + r.stderr, nativeOut);
      assert.equal(r.code, 0);
    } finally {
      await root.cleanup();
      await bundle.cleanup();
    }
  },
});

// Host sockets answer as the host's own: other protocols, bad addresses, SO_LINGER (and a
// lingering close that leaves the other processes running), a socket closed while a thread
// waits on it, control messages, ports below 1024 with and without CAP_NET_BIND_SERVICE, and
// waits in poll, select and epoll woken by the host's changes.
probeTests([
  { prog: "net_host", runscFlags: ["--network=host"] },
  { prog: "net_bind_service", runscFlags: ["--network=host"] },
  { prog: "net_accept_emfile", runscFlags: ["--network=host"] },
  { prog: "net_sockioctl", runscFlags: ["--network=host"] },
  { prog: "net_origdst", runscFlags: ["--network=host"] },
  { prog: "net_host_wait", runscFlags: ["--network=host"] },
]);

Deno.test({
  name: "--network=host: a host abstract Unix socket is not reachable from the sandbox, as it " +
    "is natively, and the Sentry says it is in a Landlock domain scoping them",
  ignore: !IS_ROOT,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const prog = await compileProg("net_abstract");
    // The whole of sun_path is the name (the probe pads it with NULs as bindUnix does).
    const name = `runsc-test-abstract-${Deno.pid}-${Math.floor(Math.random() * 1e9)}`;
    const srv = unixSocket(SOCK_STREAM);
    const root = await makeRoot();
    const bundle = await makeBundle({
      args: ["/net_abstract", name],
      files: { "net_abstract": prog },
    });
    try {
      bindUnix(srv, `\0${name}`);
      listenFd(srv, 8);
      const native = await run(prog, name);
      assert.equal(native.out, "socket: 0\nconnect abstract: 0\n");
      const debugLog = `${bundle.dir}/debug.log`;
      const r = await root.runsc(["run", "--bundle", bundle.dir, "abstract"], {
        timeoutMs: 120_000,
      }, ["--network=host", "--debug", `--debug-log=${debugLog}`]);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout, "socket: 0\nconnect abstract: Connection refused\n");
      if (landlockAbi() >= 6) {
        assert.match(
          readOr(debugLog),
          /"landlock":\{"abi":\d+,"scoped":\["abstract_unix_socket","signal"\]\}/,
        );
      }
    } finally {
      closeFd(srv);
      await root.cleanup();
      await bundle.cleanup();
    }
  },
});

import assert from "node:assert/strict";
import { inFreshDeno } from "../tests/harness.ts";
import { landlockAbi } from "./landlock.ts";

const here = (f: string) => new URL(f, import.meta.url).href;

Deno.test({
  name: "scopeEverywhere(): no thread (one started before it too) reaches an abstract socket " +
    "or signals a process made outside; a process made after is signalled",
  ignore: landlockAbi() < 6,
  async fn() {
    // A fresh process: a Landlock domain cannot be left. The worker's thread exists before the
    // domain, so only the signal-handler pass of every thread can have put it in.
    const got = await inFreshDeno(`
      import { scopeEverywhere } from "${here("./landlock.ts")}";
      import { bindUnix, listenFd, unixSocket, SOCK_STREAM } from "${here("./socket.ts")}";
      import { hostKill } from "${here("./spawn.ts")}";
      const name = "\\0runsc-landlock-test-" + Deno.pid;
      const srv = unixSocket(SOCK_STREAM);
      bindUnix(srv, name);
      listenFd(srv, 8);
      const worker = new Worker("data:text/javascript," + encodeURIComponent(\`
        import { connectUnix, unixSocket, SOCK_STREAM } from "${here("./socket.ts")}";
        import { closeFd } from "${here("./libc.ts")}";
        self.onmessage = () => {
          const c = unixSocket(SOCK_STREAM);
          try { connectUnix(c, ${"${JSON.stringify(name)}"}); self.postMessage("connected"); }
          catch (e) { self.postMessage(e.message); }
          finally { closeFd(c); }
        };\`), { type: "module" });
      const ask = () => new Promise((r) => { worker.onmessage = (e) => r(e.data); worker.postMessage(0); });
      const out = { workerBefore: await ask(), parentBefore: hostKill(Deno.ppid, 0) };
      const scope = scopeEverywhere();
      const later = new Deno.Command("sleep", { args: ["30"] }).spawn();
      Object.assign(out, {
        scope,
        workerAfter: await ask(),
        parentAfter: hostKill(Deno.ppid, 0),
        childAfter: hostKill(later.pid, 9),
      });
      await later.status;
      worker.terminate();
      console.log(JSON.stringify(out));
    `);
    const { workerAfter, ...out } = JSON.parse(got);
    assert.deepEqual(out, {
      workerBefore: "connected",
      parentBefore: true,
      scope: { abi: landlockAbi(), scoped: ["abstract_unix_socket", "signal"] },
      parentAfter: false,
      childAfter: true,
    });
    assert.match(workerAfter, /EPERM/);
  },
});

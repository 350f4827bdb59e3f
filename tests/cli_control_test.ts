/**
 * The control socket protocol between the CLI and boot (boot/control.ts), with an in-process
 * server standing in for the sandbox.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import {
  control,
  ControlError,
  type ControlRequest,
  ControlTimeout,
  ControlUnavailable,
  serveControl,
} from "../boot/control.ts";

async function withServer(
  handler: (req: ControlRequest) => Promise<Record<string, unknown>>,
  fn: (path: string) => Promise<void>,
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "runsc-ctl-" });
  const path = join(dir, "ctl.sock");
  const server = serveControl(path, handler);
  try {
    await fn(path);
  } finally {
    server.close();
    await server.done;
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("control() gets each request's reply payload", async () => {
  await withServer(async (req) => {
    await Promise.resolve();
    switch (req.cmd) {
      case "state":
        return { status: "running" };
      case "ps":
        return { processes: [{ pid: 1, ppid: 0, cmd: "init" }] };
      case "signal":
        return req.signo === 9 ? {} : Promise.reject(new Error(`no signal ${req.signo}`));
      default:
        return {};
    }
  }, async (path) => {
    assert.deepEqual(await control(path, { cmd: "state" }), { status: "running" });
    assert.deepEqual((await control(path, { cmd: "ps" })).processes[0].cmd, "init");
    assert.deepEqual(await control(path, { cmd: "signal", signo: 9 }), {});
    await assert.rejects(() => control(path, { cmd: "signal", signo: 3 }), (e) => {
      assert(e instanceof ControlError);
      assert.equal(e.message, "no signal 3");
      return true;
    });
  });
});

Deno.test("a pending wait does not hold up requests on other connections", async () => {
  let exit!: (n: number) => void;
  const exited = new Promise<number>((r) => exit = r);
  await withServer(async (req) => {
    if (req.cmd === "wait") return { exitStatus: await exited };
    return { status: "running" };
  }, async (path) => {
    const waiting = control(path, { cmd: "wait" });
    assert.deepEqual(await control(path, { cmd: "state" }), { status: "running" });
    exit(137);
    assert.deepEqual(await waiting, { exitStatus: 137 });
  });
});

Deno.test("control() reports an absent sandbox as ControlUnavailable", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await assert.rejects(
      () => control(join(dir, "ctl.sock"), { cmd: "state" }),
      ControlUnavailable,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("control() gives up on a sandbox that does not answer", async () => {
  await withServer(
    (req) => req.cmd === "state" ? new Promise(() => {}) : Promise.resolve({}),
    async (path) => {
      await assert.rejects(
        () => control(path, { cmd: "state" }, { timeoutMs: 100 }),
        (e) => {
          assert(e instanceof ControlTimeout);
          assert.match(e.message, /no answer to state within 0\.1s/);
          return true;
        },
      );
    },
  );
});

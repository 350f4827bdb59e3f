/**
 * The container's stdin as a host pipe that is empty when the application waits on it: poll,
 * epoll_wait and select sleep until the other end writes, and the end of input wakes them, as
 * natively. The host's epoll tells the Sentry (sentry/net/host_readiness.ts HostFdWatch); while
 * the application waits, the Sentry's thread sleeps rather than looking again every few
 * milliseconds.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { compileProg, DENO, IS_ROOT, MAIN, makeBundle, makeRoot } from "./harness.ts";

/** What the harness writes at each "waiting" line; the last wait gets the end of input. */
const LINES = ["one\n", "two\n", "three\n"];
/** How long the program is left waiting before each line: long enough to be asleep. */
const PAUSE_MS = 300;
/** The first wait, during which the Sentry's wake-ups are counted. */
const WATCH_MS = 600;

interface Conversation {
  out: string;
  /** Context switches of `watched()`'s thread while the program waited for the first line. */
  switches?: number;
}

/** The main thread's voluntary context switches (each time it slept and was woken). */
function voluntarySwitches(pid: number): number {
  const status = Deno.readTextFileSync(`/proc/${pid}/task/${pid}/status`);
  return Number(/voluntary_ctxt_switches:\s+(\d+)/.exec(status)![1]);
}

/**
 * Runs argv with stdin and stdout piped, writing LINES[i] when the i-th "waiting" line shows,
 * then closing stdin; returns its output. `watched` names a process whose main thread's wake-ups
 * are counted during the first wait.
 */
async function converse(argv: string[], watched?: () => number): Promise<Conversation> {
  const child = new Deno.Command(argv[0], {
    args: argv.slice(1),
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const timer = setTimeout(() => child.kill("SIGKILL"), 60_000);
  const w = child.stdin.getWriter();
  const dec = new TextDecoder();
  const r: Conversation = { out: "" };
  let answered = 0;
  const stderr = new Response(child.stderr).text();
  try {
    for await (const chunk of child.stdout) {
      r.out += dec.decode(chunk, { stream: true });
      const waits = r.out.match(/^waiting .*$/gm)?.length ?? 0;
      while (answered < waits) {
        if (answered === 0 && watched) {
          const pid = watched();
          const before = voluntarySwitches(pid);
          await new Promise((res) => setTimeout(res, WATCH_MS));
          r.switches = voluntarySwitches(pid) - before;
        } else {
          await new Promise((res) => setTimeout(res, PAUSE_MS));
        }
        if (answered < LINES.length) await w.write(new TextEncoder().encode(LINES[answered]));
        else await w.close();
        answered++;
      }
    }
    const st = await child.status;
    assert.equal(st.code, 0, `${argv.join(" ")}: ${await stderr}`);
    return r;
  } finally {
    clearTimeout(timer);
  }
}

Deno.test({
  name: "stdin as a host pipe: poll, epoll and select sleep until a write or the end, as natively",
  ignore: !IS_ROOT,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const prog = await compileProg("fs_stdin_wait");
    const native = await converse([prog]);
    const root = await makeRoot();
    const bundle = await makeBundle({ args: ["/prog"], files: { "prog": prog } });
    const id = "stdin-wait";
    try {
      const sentry = () =>
        JSON.parse(Deno.readTextFileSync(join(root.root, id, "state.json"))).pid as number;
      const sandboxed = await converse(
        [
          DENO,
          "run",
          "-A",
          "--quiet",
          MAIN,
          "--root",
          root.root,
          "run",
          "--bundle",
          bundle.dir,
          id,
        ],
        sentry,
      );
      assert.equal(sandboxed.out, native.out);
      assert.match(native.out, /end read 0/);
      // Measured: 13-14 wake-ups without the look every 10 ms (the Gofer watch, the readiness
      // loop's slices, the runtime's own), 75 with it.
      assert.ok(
        sandboxed.switches! < 35,
        `the Sentry woke ${sandboxed.switches} times while the application waited`,
      );
    } finally {
      await bundle.cleanup();
      await root.cleanup();
    }
  },
});

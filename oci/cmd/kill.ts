/**
 * `runsc kill <id> [signal]`: sends a signal (default TERM) to the container's init, or with
 * `--all` to every process in it. SIGKILL works on a sandbox that does not answer (stopped,
 * wedged): its processes are killed from the host, which ends every process in it.
 *
 * @module
 */

import { ControlTimeout } from "../../boot/control.ts";
import { CliError, type Command } from "../command.ts";
import { cgroupOf, killSandboxProcesses, liveStatus, request } from "../container.ts";
import { bool, str } from "../flags.ts";
import { parseSignal } from "../signals.ts";

const SIGKILL = 9;
/** How long a SIGKILL waits for the sandbox to answer before it kills from the host. */
const KILL_ANSWER_MS = 5000;

export const killCommand: Command = {
  name: "kill",
  summary: "send a signal to a container",
  usage: "<container-id> [signal]",
  args: { min: 1, max: 2 },
  flags: [
    { name: "all", kind: "bool", default: false, aliases: ["a"], help: "signal every process" },
    { name: "pid", kind: "string", default: "0", help: "a process exec started, not init" },
  ],
  async run(ctx, [id, sigArg], flags) {
    const signo = parseSignal(sigArg ?? "TERM");
    if (signo === null) throw new CliError(`invalid signal "${sigArg}"`);
    const pid = Number(str(flags, "pid"));
    if (!Number.isInteger(pid) || pid < 0) throw new CliError(`kill: invalid --pid ${pid}`);
    if (pid > 0) {
      await request(ctx, id, { cmd: "signal", signo, pid });
      return 0;
    }
    const st = ctx.store.read(id);
    const fromHost = () =>
      killSandboxProcesses(
        ctx,
        id,
        st.bundle,
        [st.pid, st.goferPid],
        cgroupOf(st),
        st.spareProcs,
      );
    let status;
    try {
      ({ status } = await liveStatus(ctx, st, signo === SIGKILL ? KILL_ANSWER_MS : undefined));
    } catch (e) {
      if (signo !== SIGKILL || !(e instanceof ControlTimeout)) throw e;
      await fromHost();
      return 0;
    }
    // As runc: --all on a stopped container is not an error (cleanup calls it blindly).
    if (status === "stopped" && bool(flags, "all")) return 0;
    // A frozen Sentry cannot deliver a signal; SIGKILL ends it from the host (and thaws it).
    if (status === "paused" && signo === SIGKILL) {
      await killSandboxProcesses(
        ctx,
        id,
        st.bundle,
        [st.pid, st.goferPid],
        cgroupOf(st),
        st.spareProcs,
      );
      return 0;
    }
    if (status !== "created" && status !== "running") {
      throw new CliError(`container "${id}" is not running (${status})`);
    }
    try {
      await request(ctx, id, { cmd: "signal", signo, all: bool(flags, "all") }, {
        timeoutMs: signo === SIGKILL ? KILL_ANSWER_MS : undefined,
      });
    } catch (e) {
      if (signo !== SIGKILL || !(e instanceof CliError && e.cause instanceof ControlTimeout)) {
        throw e;
      }
      await fromHost();
    }
    return 0;
  },
};

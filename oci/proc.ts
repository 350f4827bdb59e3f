/**
 * What the CLI reads of host processes in /proc: the fields of /proc/<pid>/stat and the children
 * of a process, for finding and identifying a sandbox's processes.
 *
 * @module
 */

/**
 * The fields of /proc/<pid>/stat after `pid (comm)`, from the state on (index 0: state, 1:
 * ppid, 2: pgrp, 3: session, 19: starttime), or null when the process is gone. comm may hold
 * spaces and parentheses, so the fields are taken after its last ")".
 */
export function procStat(pid: number | string): string[] | null {
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    return stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  } catch {
    return null;
  }
}

/** The first child of `pid` (for nsinit: its one child), or 0 when it has none or is gone. */
export function firstChild(pid: number): number {
  try {
    const kids = Deno.readTextFileSync(`/proc/${pid}/task/${pid}/children`).trim();
    return kids ? Number(kids.split(" ")[0]) : 0;
  } catch {
    return 0;
  }
}

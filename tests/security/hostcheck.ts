/**
 * Host-side checks for the escape suite: what a container may not leave on the host. Take a
 * snapshot before the container runs, another after it is deleted, and `hostChanges` lists what
 * is new: a file in a watched directory, a process of the container's, a mount, or a listening
 * socket. An empty list is a clean host.
 *
 * Other tests run on the same host at the same time, so processes are attributed by markers
 * (the test's bundle and state directories, which every runsc process of the container names
 * on its command line, and descendants of such processes or of this test process), and a
 * listening socket counts when one of those processes holds it, or when it is a Unix socket
 * bound to a path outside /tmp and the container engines' directories. Mounts and watched
 * files are the whole host's, but for mounts under /tmp outside the markers (other tests'
 * scratch space: a Docker test's data root, overlays) and network namespaces other tests name
 * under /run/netns; runsc memfds, when counted, are those held by this process and the test's.
 *
 * @module
 */

import { join } from "node:path";

/** What a snapshot looks at. */
export interface HostCheckOptions {
  /** Strings that mark a process as the test's (bundle, state root); matched in cmdline. */
  markers: string[];
  /** Directories whose entries must not change (default: a few host places a break-out would write). */
  watch?: string[];
  /** Count the open runsc memfd descriptors (memory files, stub images) of ours too. */
  memfds?: boolean;
}

/** Directories an escape would most likely write to (top level only). */
export const DEFAULT_WATCH = ["/", "/root", "/etc", "/var/tmp", "/dev/shm", "/run"];

/** The host as seen from outside the sandbox at one moment. */
export interface HostSnapshot {
  opts: HostCheckOptions;
  /** pid -> "comm (cmdline)" of the processes alive then. */
  procs: Map<number, string>;
  /** "mount point fstype source" of every mount of this (the host's) mount namespace. */
  mounts: Set<string>;
  /** Listening sockets: "unix <path>" and "tcp <addr:port>". */
  listening: Set<string>;
  /** "dir/name" of each watched directory's entries. */
  files: Set<string>;
  /** Open descriptors of memfds named runsc-* held by ours (0 unless opts.memfds). */
  memfds: number;
}

function read(path: string): string {
  try {
    return Deno.readTextFileSync(path);
  } catch {
    return "";
  }
}

function processes(): Map<number, { ppid: number; desc: string; exe: string }> {
  const out = new Map<number, { ppid: number; desc: string; exe: string }>();
  for (const e of Deno.readDirSync("/proc")) {
    if (!/^\d+$/.test(e.name)) continue;
    const stat = read(`/proc/${e.name}/stat`);
    const close = stat.lastIndexOf(")");
    if (close < 0) continue; // gone
    const fields = stat.slice(close + 2).split(" ");
    if (fields[0] === "Z") continue; // a zombie holds nothing but its pid and is its parent's to reap
    let exe = "";
    try {
      exe = Deno.readLinkSync(`/proc/${e.name}/exe`);
    } catch { /* a kernel thread or gone */ }
    const cmdline = read(`/proc/${e.name}/cmdline`).replaceAll("\0", " ").trim();
    out.set(Number(e.name), {
      ppid: Number(fields[1]),
      desc: `${stat.slice(stat.indexOf("(") + 1, close)} (${cmdline || exe})`,
      exe,
    });
  }
  return out;
}

/** Where other programs on the host (other tests, container engines) come and go. */
const OTHERS = ["/tmp/", "/run/containerd/", "/run/docker/", "/var/run/docker/", "/run/netns/"];

function othersPlace(path: string, markers: string[]): boolean {
  return OTHERS.some((o) => path.startsWith(o)) && !markers.some((m) => path.startsWith(m));
}

function mounts(markers: string[]): Set<string> {
  return new Set(
    read("/proc/self/mountinfo").split("\n").filter(Boolean).flatMap((l) => {
      const f = l.split(" ");
      const dash = f.indexOf("-");
      return othersPlace(f[4], markers) ? [] : [`${f[4]} ${f[dash + 1]} ${f[dash + 2]}`];
    }),
  );
}

/** Socket inodes held open by these processes. */
function socketInodes(pids: Iterable<number>): Set<string> {
  const out = new Set<string>();
  for (const pid of pids) {
    try {
      for (const e of Deno.readDirSync(`/proc/${pid}/fd`)) {
        try {
          const m = /^socket:\[(\d+)\]$/.exec(Deno.readLinkSync(`/proc/${pid}/fd/${e.name}`));
          if (m) out.add(m[1]);
        } catch { /* closed meanwhile */ }
      }
    } catch { /* gone */ }
  }
  return out;
}

/**
 * Listening sockets, "unix <path>" and "tcp <addr:port>", that count: those held by `own`
 * processes, and Unix sockets bound to a path outside OTHERS. Abstract sockets and those in
 * OTHERS (other tests' sandboxes, gVisor's runsc in benchmarks, containerd's shims) are not
 * ours.
 */
function listening(own: Set<string>): Set<string> {
  const out = new Set<string>();
  for (const l of read("/proc/net/unix").split("\n").slice(1)) {
    const f = l.trim().split(/\s+/);
    // Flags 00010000 is __SO_ACCEPTCON: a listening socket.
    if (f.length < 7 || f[3] !== "00010000") continue;
    const path = f[7] ?? "(unnamed)";
    if (own.has(f[6]) || (path.startsWith("/") && !othersPlace(path, []))) {
      out.add(`unix ${path}`);
    }
  }
  for (const file of ["/proc/net/tcp", "/proc/net/tcp6"]) {
    for (const l of read(file).split("\n").slice(1)) {
      const f = l.trim().split(/\s+/);
      if (f[3] === "0A" && own.has(f[9])) out.add(`tcp ${f[1]}`); // TCP_LISTEN
    }
  }
  return out;
}

/**
 * Open descriptors of memfds whose name starts with "runsc" in this process and `pids` (other
 * sandboxes on the host hold theirs).
 */
function countMemfds(pids: Iterable<number>): number {
  let n = 0;
  for (const pid of [Deno.pid, ...pids]) {
    try {
      for (const fd of Deno.readDirSync(`/proc/${pid}/fd`)) {
        try {
          if (Deno.readLinkSync(`/proc/${pid}/fd/${fd.name}`).startsWith("/memfd:runsc")) n++;
        } catch { /* closed meanwhile */ }
      }
    } catch { /* gone */ }
  }
  return n;
}

function files(watch: string[]): Set<string> {
  const out = new Set<string>();
  for (const dir of watch) {
    try {
      for (const e of Deno.readDirSync(dir)) out.add(join(dir, e.name));
    } catch { /* not there */ }
  }
  return out;
}

/** Takes a snapshot of the host. */
export function hostSnapshot(opts: HostCheckOptions): HostSnapshot {
  const procs = new Map([...processes()].map(([pid, p]) => [pid, p.desc]));
  return {
    opts,
    procs,
    mounts: mounts(opts.markers),
    listening: listening(socketInodes(ownProcesses(opts.markers).keys())),
    files: files(opts.watch ?? DEFAULT_WATCH),
    memfds: opts.memfds ? countMemfds(ownProcesses(opts.markers).keys()) : 0,
  };
}

/**
 * The test's processes alive now: those whose command line names a marker, the descendants
 * of those and of this process, and orphaned ptrace stubs (`memfd:runsc-stub`) not seen in
 * `before` (a stub's Sentry is gone, so nothing else can own it).
 */
export function ownProcesses(markers: string[], before?: HostSnapshot): Map<number, string> {
  const all = processes();
  const own = new Set<number>([Deno.pid]);
  for (const [pid, p] of all) {
    if (markers.some((m) => p.desc.includes(m))) own.add(pid);
    if (p.ppid === 1 && p.exe.includes("runsc-stub") && before && !before.procs.has(pid)) {
      own.add(pid);
    }
  }
  // Descendants: repeat until no process is added (parents may be listed after children).
  for (let grew = true; grew;) {
    grew = false;
    for (const [pid, p] of all) {
      if (!own.has(pid) && own.has(p.ppid)) {
        own.add(pid);
        grew = true;
      }
    }
  }
  own.delete(Deno.pid);
  return new Map([...own].map((pid) => [pid, all.get(pid)!.desc]));
}

/**
 * What is on the host now that was not at `before`: one line per new process of the test's
 * (see ownProcesses), mount, listening socket or file in a watched directory.
 */
export function hostChanges(before: HostSnapshot): string[] {
  const own = ownProcesses(before.opts.markers, before);
  const now = {
    mounts: mounts(before.opts.markers),
    listening: listening(socketInodes(own.keys())),
    files: files(before.opts.watch ?? DEFAULT_WATCH),
  };
  const out: string[] = [];
  for (const [pid, desc] of own) {
    if (!before.procs.has(pid)) out.push(`process ${pid}: ${desc}`);
  }
  for (const m of now.mounts) if (!before.mounts.has(m)) out.push(`mount ${m}`);
  for (const s of now.listening) if (!before.listening.has(s)) out.push(`listening ${s}`);
  for (const f of now.files) if (!before.files.has(f)) out.push(`file ${f}`);
  if (before.opts.memfds) {
    const memfds = countMemfds(own.keys());
    if (memfds > before.memfds) out.push(`memfds ${before.memfds} -> ${memfds}`);
  }
  return out;
}

/**
 * The workloads of the whole-runtime benchmark (bench/runtime.ts): which tests/progs program
 * runs, with which arguments, in which bundle, under which runsc flags, and which figures it
 * prints.
 *
 * @module
 */

import { join } from "node:path";
import { VETH_PEER, VETH_PORT } from "./veth.ts";

/** One figure a program prints as `key=<number>` (or `key=failed: <reason>`); one table row. */
export interface Metric {
  key: string;
  unit: string;
  /** Appended to the workload's name in the table. */
  label?: string;
  /** Throughput (MB/s): ratios are taken the other way round, so that >1 still means slower. */
  higherIsBetter?: boolean;
}

/** What a workload measures: wall time of the whole run, or figures the program prints. */
export type Measure = { kind: "wall" } | { kind: "reported"; metrics: Metric[] };

export interface Workload {
  name: string;
  prog: string;
  args: string[];
  measure: Measure;
  /** Other tests/progs programs the workload runs, placed at /<name> in the rootfs. */
  extra?: string[];
  /** Global flags given to both our runsc and gVisor's (before `run`). */
  flags?: string[];
  /** Global flags for gVisor's runsc instead of `flags`, where they differ. */
  gvisorFlags?: string[];
  /** Top-level config.json changes (makeBundle's `config`): mounts, a writable root. */
  config?: Record<string, unknown>;
  /** Fills the rootfs before any run (the files a program reads), outside all timings. */
  prepare?: (rootfs: string) => Promise<void>;
  /**
   * Runs in a network namespace with a veth to a peer in the host's (bench/veth.ts): the
   * program is also the peer (`serve`); the sandboxes take the veth over (--network=sandbox).
   */
  veth?: boolean;
}

const perOp: Measure = { kind: "reported", metrics: [{ key: "ns_per_op", unit: "ns/op" }] };
const cpuMs: Measure = { kind: "reported", metrics: [{ key: "ms", unit: "ms" }] };

/** Writes `n` files of `size` bytes named `<prefix>0000`... into rootfs/dir. */
function manyFiles(dir: string, n: number, size: number, prefix: string, digits: number) {
  return async (rootfs: string) => {
    const d = join(rootfs, dir);
    await Deno.mkdir(d, { recursive: true });
    const data = new Uint8Array(size).fill(0x66);
    for (let i = 0; i < n; i++) {
      await Deno.writeFile(join(d, prefix + String(i).padStart(digits, "0")), data);
    }
  };
}

/** Writes one file of `mib` MiB at rootfs/path. */
function bigFile(path: string, mib: number) {
  return async (rootfs: string) => {
    const f = await Deno.open(join(rootfs, path), { write: true, create: true, truncate: true });
    const chunk = new Uint8Array(1 << 20).fill(0x72);
    for (let i = 0; i < mib; i++) await f.write(chunk);
    f.close();
  };
}

const writableRoot = { root: { path: "rootfs", readonly: false } };
const tmpfsTmp = { mounts: [{ destination: "/tmp", type: "tmpfs", source: "tmpfs" }] };

const RW_MIB = 64;
const rw: Measure = {
  kind: "reported",
  metrics: [
    { key: "write_mb_s", unit: "MB/s", label: "write", higherIsBetter: true },
    { key: "read_mb_s", unit: "MB/s", label: "read", higherIsBetter: true },
  ],
};

/** Write then read 64 MiB on the gofer-backed root under one --overlay2 mode. */
function rootRw(overlay: string): Workload {
  return {
    name: `fs root, overlay2=${overlay}, 64 MiB`,
    prog: "bench_fs_rw",
    // Writes /rw; reads /data, a file of the bundle, so that reads come from the host file.
    args: ["/rw", "/data", String(RW_MIB)],
    measure: rw,
    flags: [`--overlay2=${overlay}`],
    config: writableRoot,
    prepare: bigFile("data", RW_MIB),
  };
}

/** stat, open-read-close and create-write-unlink over 1000 files of the root, under `flags`. */
function files(label: string, flags: string[]): Workload {
  return {
    name: `files x1000, ${label}`,
    prog: "bench_fs_files",
    args: ["/files", "1000", "3"],
    measure: {
      kind: "reported",
      metrics: [
        { key: "stat_ns", unit: "ns/op", label: "stat" },
        { key: "orc_ns", unit: "ns/op", label: "open-read-close" },
        { key: "cwu_ns", unit: "ns/op", label: "create-write-unlink" },
      ],
    },
    flags,
    config: writableRoot,
    prepare: manyFiles("files", 1000, 256, "f", 4),
  };
}

export const WORKLOADS: Workload[] = [
  { name: "run static true (wall)", prog: "true", args: [], measure: { kind: "wall" } },
  { name: "getppid (in sandbox)", prog: "getppid_loop", args: ["20000"], measure: perOp },
  // Natively the vDSO serves it without entering the kernel; the Sentry gives no vDSO yet.
  { name: "clock_gettime via libc", prog: "bench_clock", args: ["20000"], measure: perOp },
  {
    name: "fork+exec+wait true",
    prog: "bench_fork_exec",
    args: ["100"],
    measure: perOp,
    extra: ["true"],
  },
  { name: "thread create+join", prog: "bench_threads", args: ["300"], measure: perOp },
  { name: "futex ping-pong", prog: "bench_futex", args: ["5000"], measure: perOp },
  { name: "signal round trip", prog: "bench_signal", args: ["5000"], measure: perOp },
  { name: "first touch per page", prog: "bench_touch", args: ["64"], measure: perOp },
  // Application code between system calls runs at hardware speed on either platform; with
  // two threads, on two host CPUs at once.
  { name: "CPU-bound loop, 1 thread", prog: "bench_cpu", args: ["200", "1"], measure: cpuMs },
  { name: "CPU-bound loop, 2 threads", prog: "bench_cpu", args: ["200", "2"], measure: cpuMs },
  // Files and I/O (issue 5).
  {
    name: "fs /tmp (tmpfs), 64 MiB",
    prog: "bench_fs_rw",
    args: ["/tmp/rw", "/tmp/rw", String(RW_MIB)],
    measure: rw,
    config: tmpfsTmp,
  },
  rootRw("root:self"),
  rootRw("none"),
  {
    name: "getdents64, 10,000 entries",
    prog: "bench_fs_getdents",
    args: ["/d", "10000", "10"],
    measure: {
      kind: "reported",
      metrics: [
        { key: "first_us", unit: "us", label: "first listing" },
        { key: "us_per_listing", unit: "us", label: "next listings" },
      ],
    },
    prepare: manyFiles("d", 10000, 0, "e", 5),
  },
  {
    name: "pipe between 2 processes, 64 MiB",
    prog: "bench_fs_pipe",
    args: [String(RW_MIB)],
    measure: { kind: "reported", metrics: [{ key: "mb_s", unit: "MB/s", higherIsBetter: true }] },
  },
  { name: "epoll wait/wake round trip", prog: "bench_fs_epoll", args: ["2000"], measure: perOp },
  {
    // The Sentry's loopback stack against the host's (natively) and gVisor's netstack.
    name: "TCP loopback between 2 processes",
    prog: "bench_net_tcp",
    args: ["64", "2000"],
    measure: {
      kind: "reported",
      metrics: [
        { key: "mb_s", unit: "MB/s", label: "64 MiB stream", higherIsBetter: true },
        { key: "us_per_rt", unit: "us", label: "1-byte round trip" },
      ],
    },
  },
  {
    // The same past warm-up: 64 MiB take well under 0.1 s natively, and a fresh Sentry spends
    // the first ~10 MiB compiling its stack's code; this is the rate a longer transfer keeps.
    name: "TCP loopback between 2 processes, 512 MiB",
    prog: "bench_net_tcp",
    args: ["512", "1"],
    measure: {
      kind: "reported",
      metrics: [{ key: "mb_s", unit: "MB/s", label: "stream", higherIsBetter: true }],
    },
  },
  {
    // --network=host: host sockets, the answering side asleep in poll or epoll before each
    // recv (woken by the host's epoll: sentry/net/host_readiness.ts).
    name: "TCP round trip waited in poll/epoll (--network=host)",
    prog: "bench_net_poll",
    args: ["500"],
    measure: {
      kind: "reported",
      metrics: [
        { key: "us_per_rt_poll", unit: "us", label: "poll" },
        { key: "us_per_rt_epoll", unit: "us", label: "epoll" },
      ],
    },
    flags: ["--network=host"],
  },
  {
    // The Sentry's stack on a veth (--network=sandbox: frames through a packet socket) against
    // the host's kernel in the same namespace natively and gVisor's netstack on the same veth.
    name: "TCP over a veth to a peer outside (--network=sandbox)",
    prog: "bench_net_veth",
    args: [VETH_PEER, String(VETH_PORT), "64", "2000"],
    measure: {
      kind: "reported",
      metrics: [
        { key: "mb_s", unit: "MB/s", label: "64 MiB stream", higherIsBetter: true },
        { key: "us_per_rt", unit: "us", label: "1-byte round trip" },
      ],
    },
    veth: true,
    gvisorFlags: ["--network=sandbox"],
  },
  // The gofer-backed root under each overlay and file-access mode (issue 6).
  files("overlay2=none", ["--overlay2=none"]),
  files("overlay2=root:memory", ["--overlay2=root:memory"]),
  files("overlay2=root:self", ["--overlay2=root:self"]),
  files("file-access=shared", ["--file-access=shared"]),
];

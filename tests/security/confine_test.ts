/**
 * The Sentry (`runsc boot`) and the Gofer as `runsc create` starts them, seen from the host
 * while a container runs: every thread of each is confined (no_new_privs, a seccomp filter,
 * exactly the capabilities it keeps), each has its own namespaces, and the Sentry's root holds
 * nothing of the host's.
 */
import assert from "node:assert/strict";
import { GOFER_CAPS } from "../../gofer/confine.ts";
import { Cap, namespaces } from "../../host/namespace.ts";
import { capMask, threadCreds } from "../../host/threads.ts";
import {
  inFreshDeno,
  IS_ROOT,
  makeBundle,
  makeRoot,
  REPO,
  waitFor,
  writableHostFiles,
} from "../harness.ts";
import { PLATFORMS } from "../probe.ts";
import { endSpares } from "../../oci/spare.ts";
import { busyboxRootfs, haveBusybox } from "../rootfs.ts";

/** The process under nsinit (whose pid `runsc create` records). */
function childOf(pid: number): number {
  const kids = Deno.readTextFileSync(`/proc/${pid}/task/${pid}/children`).trim();
  assert.ok(kids, `process ${pid} has a child`);
  return Number(kids.split(" ")[0]);
}

/** How many descriptors of `pid` are open on the file at `path` (compared by identity). */
function holders(pid: number, path: string): number {
  const id = (p: string) => {
    const s = Deno.statSync(p);
    return `${s.dev}:${s.ino}`;
  };
  const want = id(path);
  return [...Deno.readDirSync(`/proc/${pid}/fd`)].filter((e) => {
    try {
      return id(`/proc/${pid}/fd/${e.name}`) === want;
    } catch {
      return false; // closed meanwhile, or not a file
    }
  }).length;
}

/** Asserts that every thread of `pid` is confined to exactly `caps`. */
function assertThreads(what: string, pid: number, caps: readonly number[]): void {
  const mask = capMask(caps);
  const threads = threadCreds(pid);
  assert.ok(threads.length > 1, `${what} has several threads`);
  for (const t of threads) {
    const at = `${what} thread ${t.tid}`;
    assert.equal(t.noNewPrivs, 1, `${at}: NoNewPrivs`);
    assert.equal(t.seccomp, 2, `${at}: Seccomp`);
    assert.equal(t.capEff, mask, `${at}: CapEff`);
    assert.equal(t.capPrm, mask, `${at}: CapPrm`);
    assert.equal(t.capBnd, mask, `${at}: CapBnd`);
    assert.equal(t.capInh, 0n, `${at}: CapInh`);
    assert.equal(t.capAmb, 0n, `${at}: CapAmb`);
  }
}

// A sandbox taken from a spare (oci/spare.ts) too: its Gofer confines itself at the take.
// With --network=host (one platform: the mode changes nothing per platform) the Sentry is in
// the host's network namespace and keeps CAP_NET_BIND_SERVICE only (boot/boot.ts).
const VARIANTS = [
  ...PLATFORMS.flatMap((p) => [[p, false, false], [p, true, false]] as const),
  [PLATFORMS[0], false, true] as const,
];
for (const [platform, spare, hostNet] of VARIANTS) {
  Deno.test({
    name: `the Sentry and the Gofer are confined on every thread (${platform}${
      spare ? ", taken from a spare" : ""
    }${hostNet ? ", --network=host" : ""})`,
    ignore: !IS_ROOT || !haveBusybox(),
    async fn() {
      const rootfs = await busyboxRootfs();
      const bundle = await makeBundle({ args: ["/bin/sleep", "30"] });
      await Deno.remove(bundle.rootfs);
      await Deno.symlink(rootfs, bundle.rootfs);
      const root = await makeRoot();
      try {
        const flags = [
          `--platform=${platform}`,
          ...(spare ? ["--spare"] : []),
          ...(hostNet ? ["--network=host"] : []),
        ];
        if (spare) assert.equal((await root.runsc(["spare"], {}, flags)).code, 0);
        const c = await root.runsc(
          ["create", "--bundle", bundle.dir, "c1"],
          { outputFile: `${bundle.dir}/out` },
          flags,
        );
        assert.equal(c.code, 0, c.stderr);
        assert.equal((await root.runsc(["start", "c1"], {}, flags)).code, 0);
        const st = JSON.parse(Deno.readTextFileSync(`${root.root}/c1/state.json`));
        assert.equal(st.spareProcs !== undefined, spare, "taken from a spare");
        const boot = st.pid as number;
        const gofer = childOf(st.goferPid);
        // The application runs: the stubs (ptrace) or vCPU threads (kvm) exist.
        assert.ok(await waitFor(() => threadCreds(boot).length > 2));

        assertThreads("boot", boot, hostNet ? [Cap.NET_BIND_SERVICE] : []);
        assertThreads("gofer", gofer, GOFER_CAPS);
        // No writable host file but the container's stdio (and the kvm device): its exit record
        // is held and written by its nsinit alone (host/nsinit.ts).
        const out = `${bundle.dir}/out`;
        const device = platform === "kvm" ? ["/dev/kvm"] : [];
        assert.deepEqual(writableHostFiles(boot, [out, `${out}.err`, ...device]), [], "Sentry");
        const record = `${root.root}/c1/exit`;
        assert.equal(holders(boot, record), 0, "the Sentry holds no descriptor of its exit record");
        assert.equal(holders(st.nsinit.pid, record), 1, "its nsinit holds the exit record");

        const host = namespaces("self");
        for (
          const [what, pid, kinds] of [
            ["boot", boot, ["mnt", "ipc", "uts", ...(hostNet ? [] : ["net"]), "pid"]],
            ["gofer", gofer, ["mnt", "ipc", "uts", "net", "pid"]],
          ] as const
        ) {
          const theirs = namespaces(pid);
          for (const kind of kinds) {
            assert.ok(theirs[kind], `${what} ${kind} link readable`);
            assert.notEqual(theirs[kind], host[kind], `${what}: ${kind} namespace is its own`);
          }
        }
        // The Sentry's root is an empty tmpfs with its own /proc.
        const listing = [...Deno.readDirSync(`/proc/${boot}/root`)].map((e) => e.name);
        assert.deepEqual(listing, ["proc"]);
      } finally {
        await endSpares(root.root);
        await root.cleanup();
        await bundle.cleanup();
      }
    },
  });
}

/**
 * Runs `body` in a fresh Deno process under the named filter (installed as boot and the gofer
 * install theirs: TSYNC, LOG) and returns what it printed.
 */
function underFilter(filter: string, body: string): Promise<string> {
  return inFreshDeno(`
    import { rawSyscall } from "${REPO}/host/libc.ts";
    import { SYS } from "${REPO}/abi/linux/syscalls.ts";
    import { spawn } from "${REPO}/host/spawn.ts";
    import { goferFilter, sentryFilter } from "${REPO}/host/filters.ts";
    import { buildFilter, installFilter, SECCOMP_FILTER_FLAG_LOG, SECCOMP_FILTER_FLAG_TSYNC }
      from "${REPO}/host/seccomp.ts";
    installFilter(buildFilter(${filter}), SECCOMP_FILTER_FLAG_TSYNC | SECCOMP_FILTER_FLAG_LOG);
    ${body}
  `);
}

const DENIED_CALLS = `
  const r = (nr, ...a) => String(rawSyscall(nr, ...a.map(BigInt)));
  console.log(JSON.stringify({
    execve: r(SYS.execve, 0, 0, 0),          // EPERM, not EFAULT: refused before its arguments are read
    fork: r(SYS.fork),
    inet: r(SYS.socket, 2, 1, 0),            // socket(AF_INET)
    unix: Number(r(SYS.socket, 1, 1, 0)) >= 0,
    clone3: r(SYS.clone3, 0, 0),
    forkClone: r(SYS.clone, 17, 0, 0, 0, 0), // clone(SIGCHLD): a process, not a thread
    mount: r(SYS.mount, 0, 0, 0, 0, 0),
    tiocsti: r(SYS.ioctl, 0, 0x5412, 0),
    ptrace: r(SYS.ptrace, 16, 1, 0, 0),     // PTRACE_ATTACH to init
    // What the ptrace platform made its stubs with before: posix_spawn (vfork, execve).
    spawn: (() => {
      try {
        return "pid " + spawn({ path: "/bin/true", argv: ["true"], env: [] });
      } catch (e) {
        return e.message;
      }
    })(),
  }));
  // Deno's runtime still works: a timer, a thread of its pool, a file read.
  await new Promise((res) => setTimeout(res, 10));
  console.log(Deno.readTextFileSync("/proc/self/status").includes("Seccomp:\\t2"));
`;

/** What both filters answer DENIED_CALLS (the Sentry's lets ptrace through on ptrace). */
const REFUSED = {
  execve: "-1",
  fork: "-1",
  inet: "-1",
  unix: true,
  clone3: "-38",
  forkClone: "-1",
  mount: "-1",
  tiocsti: "-1",
  ptrace: "-1",
  spawn: "host: posix_spawn /bin/true: EPERM (1)",
};

Deno.test("the Sentry's filter refuses what it does not list (EPERM; clone3 ENOSYS)", async () => {
  for (const platform of ["ptrace", "kvm"]) {
    const [calls, alive] = (await underFilter(`sentryFilter("${platform}")`, DENIED_CALLS))
      .split("\n");
    const got = JSON.parse(calls);
    assert.equal(alive, "true");
    assert.deepEqual(got, { ...REFUSED, ptrace: platform === "ptrace" ? got.ptrace : "-1" });
  }
});

Deno.test("the Gofer's filter refuses what it does not list", async () => {
  const [calls] = (await underFilter("goferFilter()", DENIED_CALLS)).split("\n");
  assert.deepEqual(JSON.parse(calls), REFUSED);
});

Deno.test("with --network=host the Sentry's filter adds TCP, UDP and ping sockets only, of no other protocol", async () => {
  const out = await underFilter(
    `sentryFilter("ptrace", "host")`,
    `
    const r = (nr, ...a) => Number(rawSyscall(nr, ...a.map(BigInt)));
    console.log(JSON.stringify({
      tcp: r(41, 2, 1 | 0o4000 | 0o2000000, 0) >= 0, // socket(AF_INET, SOCK_STREAM|NONBLOCK|CLOEXEC)
      udp6: r(41, 10, 2, 0) >= 0,                     // socket(AF_INET6, SOCK_DGRAM)
      tcpByName: r(41, 2, 1, 6) >= 0,                 // IPPROTO_TCP
      udpByName: r(41, 10, 2, 17) >= 0,               // IPPROTO_UDP
      // A ping socket passes the filter; the host then applies net.ipv4.ping_group_range.
      ping: r(41, 2, 2, 1) !== -1,
      ping6: r(41, 10, 2, 58) !== -1,
      sctp: r(41, 2, 1, 132),                         // IPPROTO_SCTP: EPERM
      udplite: r(41, 2, 2, 136),                      // IPPROTO_UDPLITE: EPERM
      mptcp: r(41, 10, 1, 262),                       // IPPROTO_MPTCP: EPERM
      streamUdp: r(41, 2, 1, 17),                     // a stream of IPPROTO_UDP: EPERM
      icmpv6On4: r(41, 2, 2, 58),                     // ICMPv6 on AF_INET: EPERM
      raw: r(41, 2, 3, 1),                            // socket(AF_INET, SOCK_RAW): EPERM
      packet: r(41, 17, 3, 0),                        // socket(AF_PACKET): EPERM
      netlink: r(41, 16, 3, 0),                       // socket(AF_NETLINK): EPERM
      execve: r(59, 0, 0, 0),
    }));
  `,
  );
  assert.deepEqual(JSON.parse(out), {
    tcp: true,
    udp6: true,
    tcpByName: true,
    udpByName: true,
    ping: true,
    ping6: true,
    sctp: -1,
    udplite: -1,
    mptcp: -1,
    streamUdp: -1,
    icmpv6On4: -1,
    raw: -1,
    packet: -1,
    netlink: -1,
    execve: -1,
  });
});

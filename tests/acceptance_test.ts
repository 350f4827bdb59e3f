/**
 * Acceptance: real programs, natively and in the sandbox with identical output required.
 * Static busybox's shell (pipelines, subshells, command substitution, background jobs and
 * wait, traps, killing a job, exit statuses) and dynamically linked Debian programs (ls,
 * coreutils, the sqlite3 CLI, and Python: threads, subprocesses with pipes, selectors, files,
 * os.walk, tempfile, shutil.copytree, sqlite3 on /tmp and on the root filesystem).
 */

import { type Probe, probeTests } from "./probe.ts";
import { busyboxRootfs, debianRootfs, haveBusybox, haveDebianPrograms } from "./rootfs.ts";

const sh = (name: string, script: string): Probe => ({
  name: `busybox sh: ${name}`,
  argv: ["/bin/sh", "-c", script],
  rootfs: busyboxRootfs,
});

probeTests(
  [
    sh("pipelines", "echo one two three | tr ' ' '\\n' | sort -r | head -n 2; seq 1 1000 | wc -l"),
    sh(
      "subshells and statuses",
      "(echo inner; exit 3); echo status $?; false || echo or-ran; ! true; echo negated $?",
    ),
    sh(
      "command substitution",
      'x=$(echo a; echo b); echo "[$x]"; echo $(( $(seq 1 10 | wc -l) * 2 ))',
    ),
    sh(
      "background jobs and wait",
      "sleep 0.2 & p=$!; echo started; wait $p; echo waited $?; (exit 7) & wait $!; echo got $?",
    ),
    sh(
      "trap on signals",
      'trap "echo got USR1" USR1; kill -USR1 $$; trap "echo bye" EXIT; echo end',
    ),
    sh(
      "killing a background job",
      "sleep 10 & p=$!; kill $p; wait $p; echo status $?; sleep 10 & kill -9 $!; wait $!; echo status $?",
    ),
    sh(
      "loops, functions and exit status",
      "f() { return $(( $1 % 3 )); }; for i in 1 2 3 4; do f $i; echo $i:$?; done; exit 42",
    ),
    sh(
      "here-documents and redirections",
      "cat <<EOF > /tmp/x 2>&1\nline one\nline two\nEOF\nwc -l < /tmp/x; cat /tmp/x | grep two; echo err >&2",
    ),
  ],
  haveBusybox() ? null : "no /bin/busybox on the host (apt-get install busybox-static)",
);

// Python's networking over loopback: a threaded HTTP server on IPv4 and IPv6, fetched.
const PY_HTTP = `
import functools, http.server, socket, threading, urllib.request
class V6(http.server.ThreadingHTTPServer):
    address_family = socket.AF_INET6
for flags in (0, socket.AI_ADDRCONFIG):
    print("localhost", sorted({a[4][0] for a in socket.getaddrinfo(
        "localhost", 80, 0, socket.SOCK_STREAM, 0, flags)}))
handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory="/data")
for cls, host, url in ((http.server.ThreadingHTTPServer, "127.0.0.1", "127.0.0.1"),
                       (V6, "::1", "[::1]")):
    srv = cls((host, 0), handler)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    with urllib.request.urlopen(f"http://{url}:{srv.server_address[1]}/a.txt") as r:
        print(host, r.status, r.read())
    srv.shutdown()
    srv.server_close()
`;

// Python's file work: what programs do with files every day, checked by results.
const PY_FILES = `
import os, tempfile, shutil, sqlite3, subprocess, selectors
with tempfile.TemporaryDirectory() as d:
    for i in range(3):
        os.makedirs(os.path.join(d, "src", f"sub{i}"))
        with open(os.path.join(d, "src", f"sub{i}", "f.txt"), "w") as f:
            f.write("x" * (i + 1))
    shutil.copytree(os.path.join(d, "src"), os.path.join(d, "dst"))
    walked = sorted((os.path.relpath(r, d), sorted(fs)) for r, _, fs in os.walk(os.path.join(d, "dst")))
    print(walked)
    print(sum(os.path.getsize(os.path.join(r, f)) for r, _, fs in os.walk(d) for f in fs))
for path in ["/tmp/t.db", "/data/root.db"]:
    db = sqlite3.connect(path)
    db.execute("create table if not exists t(k text primary key, v int)")
    db.executemany("insert or replace into t values(?, ?)", [(str(i), i * i) for i in range(100)])
    db.commit()
    print(path, db.execute("select count(*), sum(v) from t").fetchone())
    db.close()
p = subprocess.Popen(["/bin/cat"], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
sel = selectors.DefaultSelector()
sel.register(p.stdout, selectors.EVENT_READ)
p.stdin.write(b"through a pipe\\n")
p.stdin.close()
events = sel.select(timeout=10)
print(len(events), p.stdout.read(), p.wait())
`;

probeTests(
  [
    {
      name: "dynamic /bin/ls -ln /data",
      argv: ["/bin/ls", "-ln", "--time-style=+%s", "/data"],
      rootfs: debianRootfs,
    },
    {
      name: "python3 with threads and a subprocess",
      argv: [
        "/usr/bin/python3",
        "-c",
        [
          "import threading, subprocess, os, sys",
          "out = []",
          "ts = [threading.Thread(target=lambda i=i: out.append(i * i)) for i in range(4)]",
          "[t.start() for t in ts]; [t.join() for t in ts]",
          "print(sorted(out))",
          "r = subprocess.run(['/bin/cat', '/data/b.txt'], capture_output=True, text=True)",
          "print(repr(r.stdout), r.returncode)",
          "print(len(os.listdir('/data')), sys.version_info[0])",
        ].join("\n"),
      ],
      env: ["PYTHONDONTWRITEBYTECODE=1"],
      rootfs: debianRootfs,
    },
    {
      name: "python3 with files, os.walk, tempfile, shutil, selectors and sqlite3",
      argv: ["/usr/bin/python3", "-c", PY_FILES],
      env: ["PYTHONDONTWRITEBYTECODE=1"],
      rootfs: debianRootfs,
      writableRoot: true,
    },
    {
      name: "python3 http.server fetched with urllib over loopback (--network=none)",
      argv: ["/usr/bin/python3", "-c", PY_HTTP],
      env: ["PYTHONDONTWRITEBYTECODE=1"],
      rootfs: debianRootfs,
      loopbackOnly: true,
      runscFlags: ["--network=none"],
    },
    {
      // Host sockets driven by the Sentry, and netlink showing the host's interfaces (what
      // getaddrinfo's AI_ADDRCONFIG reads): the native run is in the host's namespace too.
      name: "python3 http.server fetched with urllib over host sockets (--network=host)",
      argv: ["/usr/bin/python3", "-c", PY_HTTP],
      env: ["PYTHONDONTWRITEBYTECODE=1"],
      rootfs: debianRootfs,
      runscFlags: ["--network=host"],
    },
    {
      name: "coreutils and the sqlite3 CLI",
      argv: [
        "/bin/sh",
        "-c",
        [
          "cd /tmp && cp /data/a.txt x && mv x y && cat y /data/b.txt | sort | sha256sum",
          "printf 'create table t(a);insert into t values(1),(2),(3);select sum(a) from t;' " +
          "| sqlite3 /tmp/db.sqlite",
          "sqlite3 /tmp/db.sqlite 'select count(*) from t;'",
          "ls /data | wc -l; head -c 5 /data/b.txt; echo",
        ].join("\n"),
      ],
      rootfs: debianRootfs,
    },
  ],
  haveDebianPrograms() ? null : "no /bin/ls, or no python3 with its library, on the host",
);

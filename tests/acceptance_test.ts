/**
 * Acceptance: real programs, natively and in the sandbox with identical output required.
 * Static busybox's shell (pipelines, subshells, command substitution, background jobs and
 * wait, traps, killing a job, exit statuses) and dynamically linked Debian programs (ls,
 * Python with threads and a subprocess).
 */

import { type Probe, probeTests } from "./probe.ts";
import { busyboxRootfs, debianRootfs, haveBusybox, haveDebianPrograms } from "./rootfs.ts";

const sh = (name: string, script: string): Probe => ({
  name: `busybox sh: ${name}`,
  argv: ["/bin/sh", "-c", script],
  rootfs: busyboxRootfs,
});

if (haveBusybox()) {
  probeTests([
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
  ]);
} else {
  console.warn(
    "acceptance: busybox tests skipped: no /bin/busybox (apt-get install busybox-static)",
  );
}

if (haveDebianPrograms()) {
  probeTests([
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
  ]);
} else {
  console.warn("acceptance: Debian program tests skipped: no /bin/ls or python3 on the host");
}

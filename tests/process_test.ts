/**
 * Processes, threads, signals, memory and time (see probe.ts): each program runs natively
 * and in the sandbox with identical output required.
 */

import { probeTests } from "./probe.ts";

probeTests([
  { prog: "fork_wait" },
  { prog: "signal_handler" },
  { prog: "sigaltstack" },
  { prog: "segv_handler" },
  { prog: "threads", pie: true },
  { prog: "mmap_cow" },
  {
    prog: "exec_script",
    files: {
      "script.sh": { text: "#!/exec_script print\n", mode: 0o755 },
      "plain.txt": { text: "not a program\n", mode: 0o644 },
    },
  },
  { prog: "itimer" },
  { prog: "sigchld" },
  { prog: "process_misc" },
  { prog: "proc_state" },
  { prog: "proc_task" },
  { prog: "futex_robust" },
  { prog: "futex_ops" },
  { prog: "thread_cputime" },
  { prog: "thread_fpu" },
  { prog: "stack_growth" },
  { prog: "signal_avx" },
  { prog: "signal_fpu_edit" },
  { prog: "proc_smaps" },
  { prog: "tty_jobctl" },
]);

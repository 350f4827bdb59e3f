/**
 * Levelled logging shared by every role (CLI, boot, gofer).
 *
 * The CLI writes errors for containerd to `--log` (text or JSON lines); `--debug` turns on debug
 * messages, which go to `--debug-log` when given. The boot and gofer processes never write to
 * their stdio, which belong to the container.
 *
 * @module
 */

export type Level = "debug" | "info" | "warning" | "error";
const RANK: Record<Level, number> = { debug: 0, info: 1, warning: 2, error: 3 };

export interface LogSink {
  fd?: number;
  path?: string;
  format: "text" | "json";
}

/** A logger writing to any number of sinks with a minimum level. */
export class Logger {
  #sinks: { file: Deno.FsFile | null; fd: number; format: "text" | "json" }[] = [];
  #encoder = new TextEncoder();
  constructor(public minLevel: Level = "warning", public prefix = "") {}

  /** Adds a sink: a path (appended to) or an inherited descriptor. */
  addSink(sink: LogSink): void {
    if (sink.path !== undefined) {
      const file = Deno.openSync(sink.path, { append: true, create: true, write: true });
      this.#sinks.push({ file, fd: -1, format: sink.format });
    } else if (sink.fd !== undefined) {
      this.#sinks.push({ file: null, fd: sink.fd, format: sink.format });
    }
  }

  get hasSinks(): boolean {
    return this.#sinks.length > 0;
  }

  enabled(level: Level): boolean {
    return RANK[level] >= RANK[this.minLevel] && this.#sinks.length > 0;
  }

  log(level: Level, msg: string, fields?: Record<string, unknown>): void {
    if (!this.enabled(level)) return;
    const time = new Date().toISOString();
    for (const s of this.#sinks) {
      const line = s.format === "json"
        ? JSON.stringify({ msg: this.prefix + msg, level, time, ...fields }) + "\n"
        : `${time} ${level[0].toUpperCase()} ${this.prefix}${msg}${
          fields ? " " + JSON.stringify(fields) : ""
        }\n`;
      const bytes = this.#encoder.encode(line);
      try {
        if (s.file) s.file.writeSync(bytes);
        else if (s.fd === 2) Deno.stderr.writeSync(bytes);
      } catch {
        // A log that cannot be written must not take the sandbox down.
      }
    }
  }

  debug(msg: string, fields?: Record<string, unknown>): void {
    this.log("debug", msg, fields);
  }
  info(msg: string, fields?: Record<string, unknown>): void {
    this.log("info", msg, fields);
  }
  warning(msg: string, fields?: Record<string, unknown>): void {
    this.log("warning", msg, fields);
  }
  error(msg: string, fields?: Record<string, unknown>): void {
    this.log("error", msg, fields);
  }

  /**
   * Marks a start-up or tear-down phase for the `--debug` timeline: `phase <name>` with the
   * milliseconds since this process's runtime began (`ms`), so that the lines of the CLI, boot
   * and gofer, merged by their wall-clock times, show where the time went in each process; and
   * the CPU time this process has used so far (`cpu`, ms, every thread), which is what several
   * containers started at once share.
   */
  phase(name: string, fields?: Record<string, unknown>): void {
    if (!this.enabled("debug")) return;
    this.log("debug", `phase ${name}`, {
      ms: Math.round(performance.now() * 10) / 10,
      cpu: processCpuMs(),
      ...fields,
    });
  }
}

/**
 * CPU time of every thread of this process so far, in ms (the first field of each thread's
 * schedstat, in ns), or undefined where /proc cannot say.
 */
function processCpuMs(): number | undefined {
  let ns = 0;
  try {
    for (const t of Deno.readDirSync("/proc/self/task")) {
      try {
        ns += Number(Deno.readTextFileSync(`/proc/self/task/${t.name}/schedstat`).split(" ")[0]);
      } catch { /* the thread ended */ }
    }
  } catch {
    return undefined;
  }
  return Math.round(ns / 1e5) / 10;
}

/** The process-wide logger; each role configures its sinks at start. */
export const log: Logger = new Logger();

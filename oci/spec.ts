/**
 * The OCI runtime spec's config.json: its types (the parts this runtime reads), validation with
 * messages that name the offending field, loading from a bundle, and the default spec that
 * `runsc spec` writes.
 *
 * @module
 */

import { capBit, capFromName, type CapSets } from "../sentry/kernel/task_creds.ts";
import { isAbsolute, join, resolve } from "../path.ts";
import type { InitSpec } from "../boot/sandbox.ts";
import { SPEC_VERSION } from "./global.ts";

/** process.user */
export interface User {
  uid: number;
  gid: number;
  umask?: number;
  additionalGids?: number[];
  username?: string;
}

/** One process.rlimits entry. */
export interface Rlimit {
  type: string;
  soft: number;
  hard: number;
}

/** process.capabilities */
export interface Capabilities {
  bounding?: string[];
  effective?: string[];
  inheritable?: string[];
  permitted?: string[];
  ambient?: string[];
}

/** process */
export interface Process {
  terminal?: boolean;
  consoleSize?: { height: number; width: number };
  user: User;
  args: string[];
  env?: string[];
  cwd: string;
  rlimits?: Rlimit[];
  capabilities?: Capabilities;
  noNewPrivileges?: boolean;
  apparmorProfile?: string;
  oomScoreAdj?: number;
  selinuxLabel?: string;
}

/** root */
export interface Root {
  path: string;
  readonly?: boolean;
}

/** One mounts entry. */
export interface Mount {
  destination: string;
  type?: string;
  source?: string;
  options?: string[];
}

/** One linux.namespaces entry. */
export interface Namespace {
  type: string;
  path?: string;
}

/** linux (only what is read or passed on; the rest is kept as given). */
export interface Linux {
  namespaces?: Namespace[];
  uidMappings?: { containerID: number; hostID: number; size: number }[];
  gidMappings?: { containerID: number; hostID: number; size: number }[];
  resources?: Record<string, unknown>;
  cgroupsPath?: string;
  maskedPaths?: string[];
  readonlyPaths?: string[];
  sysctl?: Record<string, string>;
  seccomp?: Record<string, unknown>;
  [key: string]: unknown;
}

/** A config.json. */
export interface Spec {
  ociVersion: string;
  process?: Process;
  root?: Root;
  hostname?: string;
  mounts?: Mount[];
  hooks?: Record<string, unknown>;
  annotations?: Record<string, string>;
  linux?: Linux;
}

/** A config.json that cannot be used; the message names the file and the field. */
export class SpecError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "SpecError";
  }
}

const RLIMIT_TYPES = new Set([
  "RLIMIT_CPU",
  "RLIMIT_FSIZE",
  "RLIMIT_DATA",
  "RLIMIT_STACK",
  "RLIMIT_CORE",
  "RLIMIT_RSS",
  "RLIMIT_NPROC",
  "RLIMIT_NOFILE",
  "RLIMIT_MEMLOCK",
  "RLIMIT_AS",
  "RLIMIT_LOCKS",
  "RLIMIT_SIGPENDING",
  "RLIMIT_MSGQUEUE",
  "RLIMIT_NICE",
  "RLIMIT_RTPRIO",
  "RLIMIT_RTTIME",
]);

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}
function isStringArray(v: unknown): v is string[] {
  return Array.isArray(v) && v.every((s) => typeof s === "string");
}
function isUint32(v: unknown): v is number {
  return typeof v === "number" && Number.isInteger(v) && v >= 0 && v <= 0xffffffff;
}
function show(v: unknown): string {
  return JSON.stringify(v) ?? String(v);
}

/**
 * Validates a parsed config.json against the parts of the OCI spec this runtime relies on.
 * `bundleDir` resolves a relative root.path; the root must exist and be a directory.
 * Returns the spec typed; throws SpecError naming the field otherwise. `onHost: false` skips the
 * root's check, for a process that no longer sees the host's files (a spare boot taking a spec
 * the CLI checked: oci/spare.ts).
 */
export function validateSpec(json: unknown, bundleDir: string, onHost = true): Spec {
  const fail = (msg: string): never => {
    throw new SpecError(`config.json: ${msg}`);
  };
  if (!isObject(json)) fail("must be a JSON object");
  const s = json as Record<string, unknown>;
  if (typeof s.ociVersion !== "string" || s.ociVersion === "") {
    fail(`ociVersion must be a non-empty string, got ${show(s.ociVersion)}`);
  }
  if (!isObject(s.process)) fail("process must be an object (this runtime needs a process)");
  const p = s.process as Record<string, unknown>;
  if (!isStringArray(p.args) || p.args.length === 0) {
    fail(`process.args must be a non-empty array of strings, got ${show(p.args)}`);
  }
  if ((p.args as string[])[0] === "") fail("process.args[0] must not be empty");
  if (typeof p.cwd !== "string" || !p.cwd.startsWith("/")) {
    fail(`process.cwd must be absolute, got ${show(p.cwd)}`);
  }
  if (p.env !== undefined) {
    if (!isStringArray(p.env)) fail(`process.env must be an array of strings, got ${show(p.env)}`);
    (p.env as string[]).forEach((e, i) => {
      if (!e.includes("=")) fail(`process.env[${i}] must have the form KEY=VALUE, got ${show(e)}`);
    });
  }
  if (p.terminal !== undefined && typeof p.terminal !== "boolean") {
    fail(`process.terminal must be a boolean, got ${show(p.terminal)}`);
  }
  if (!isObject(p.user)) fail(`process.user must be an object, got ${show(p.user)}`);
  const u = p.user as Record<string, unknown>;
  if (!isUint32(u.uid)) {
    fail(`process.user.uid must be an integer in [0, 2^32), got ${show(u.uid)}`);
  }
  if (!isUint32(u.gid)) {
    fail(`process.user.gid must be an integer in [0, 2^32), got ${show(u.gid)}`);
  }
  if (u.umask !== undefined && (!isUint32(u.umask) || (u.umask as number) > 0o777)) {
    fail(`process.user.umask must be an integer in [0, 0777], got ${show(u.umask)}`);
  }
  if (
    u.additionalGids !== undefined &&
    !(Array.isArray(u.additionalGids) && u.additionalGids.every(isUint32))
  ) {
    fail(`process.user.additionalGids must be an array of integers, got ${show(u.additionalGids)}`);
  }
  if (p.rlimits !== undefined) {
    if (!Array.isArray(p.rlimits)) fail(`process.rlimits must be an array, got ${show(p.rlimits)}`);
    (p.rlimits as unknown[]).forEach((r, i) => {
      if (!isObject(r)) return fail(`process.rlimits[${i}] must be an object`);
      if (typeof r.type !== "string" || !RLIMIT_TYPES.has(r.type)) {
        fail(`process.rlimits[${i}].type is not a known rlimit, got ${show(r.type)}`);
      }
      for (const k of ["soft", "hard"]) {
        if (typeof r[k] !== "number" || !Number.isInteger(r[k]) || (r[k] as number) < 0) {
          fail(`process.rlimits[${i}].${k} must be a non-negative integer, got ${show(r[k])}`);
        }
      }
      if ((r.soft as number) > (r.hard as number)) {
        fail(`process.rlimits[${i}]: soft limit ${r.soft} exceeds hard limit ${r.hard}`);
      }
    });
  }
  if (p.capabilities !== undefined && !isObject(p.capabilities)) {
    fail(`process.capabilities must be an object, got ${show(p.capabilities)}`);
  }
  if (isObject(p.capabilities)) {
    const caps = p.capabilities as Record<string, unknown>;
    for (const set of CAP_SET_NAMES) {
      const names = caps[set];
      if (names === undefined) continue;
      if (!Array.isArray(names)) {
        fail(`process.capabilities.${set} must be an array of names, got ${show(names)}`);
      }
      for (const n of names as unknown[]) {
        if (typeof n !== "string" || capFromName(n) === undefined) {
          fail(`process.capabilities.${set}: unknown capability ${show(n)}`);
        }
      }
    }
  }
  if (p.noNewPrivileges !== undefined && typeof p.noNewPrivileges !== "boolean") {
    fail(`process.noNewPrivileges must be a boolean, got ${show(p.noNewPrivileges)}`);
  }
  if (!isObject(s.root)) fail(`root must be an object with a path, got ${show(s.root)}`);
  const r = s.root as Record<string, unknown>;
  if (typeof r.path !== "string" || r.path === "") {
    fail(`root.path must be a non-empty string, got ${show(r.path)}`);
  }
  if (r.readonly !== undefined && typeof r.readonly !== "boolean") {
    fail(`root.readonly must be a boolean, got ${show(r.readonly)}`);
  }
  const rootPath = resolve(bundleDir, r.path as string);
  let st: Deno.FileInfo | undefined;
  try {
    if (onHost) st = Deno.statSync(rootPath);
  } catch {
    fail(`root.path ${show(r.path)} does not exist in bundle ${bundleDir}`);
  }
  if (st && !st.isDirectory) fail(`root.path ${show(r.path)} is not a directory (${rootPath})`);
  if (s.hostname !== undefined && typeof s.hostname !== "string") {
    fail(`hostname must be a string, got ${show(s.hostname)}`);
  }
  if (s.mounts !== undefined) {
    if (!Array.isArray(s.mounts)) fail(`mounts must be an array, got ${show(s.mounts)}`);
    (s.mounts as unknown[]).forEach((m, i) => {
      if (!isObject(m)) return fail(`mounts[${i}] must be an object`);
      if (typeof m.destination !== "string" || !isAbsolute(m.destination)) {
        fail(`mounts[${i}].destination must be an absolute path, got ${show(m.destination)}`);
      }
      if (m.type !== undefined && typeof m.type !== "string") {
        fail(`mounts[${i}].type must be a string, got ${show(m.type)}`);
      }
      if (m.source !== undefined && typeof m.source !== "string") {
        fail(`mounts[${i}].source must be a string, got ${show(m.source)}`);
      }
      if (m.options !== undefined && !isStringArray(m.options)) {
        fail(`mounts[${i}].options must be an array of strings, got ${show(m.options)}`);
      }
    });
  }
  if (s.annotations !== undefined) {
    if (
      !isObject(s.annotations) || !Object.values(s.annotations).every((v) => typeof v === "string")
    ) {
      fail(`annotations must be an object of strings, got ${show(s.annotations)}`);
    }
  }
  if (s.linux !== undefined && !isObject(s.linux)) {
    fail(`linux must be an object, got ${show(s.linux)}`);
  }
  return json as unknown as Spec;
}

/** Reads and validates `<bundle>/config.json`. Errors name the file. */
export function loadSpec(bundleDir: string): Spec {
  const file = join(bundleDir, "config.json");
  let text: string;
  try {
    text = Deno.readTextFileSync(file);
  } catch (e) {
    const why = e instanceof Deno.errors.NotFound ? "no such file" : (e as Error).message;
    throw new SpecError(`cannot read ${file}: ${why}`, { cause: e });
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new SpecError(`${file} is not valid JSON: ${(e as Error).message}`, { cause: e });
  }
  return validateSpec(json, bundleDir);
}

/** The absolute host path of the spec's root filesystem. */
export function rootfsPath(spec: Spec, bundleDir: string): string {
  return resolve(bundleDir, spec.root!.path);
}

/** The Sentry's view of the spec's process (validated spec only). */
export function initSpec(spec: Spec): InitSpec {
  const p = spec.process!;
  return {
    args: [...p.args],
    env: [...(p.env ?? [])],
    cwd: p.cwd,
    uid: p.user.uid,
    gid: p.user.gid,
    additionalGids: [...(p.user.additionalGids ?? [])],
    umask: p.user.umask,
    hostname: spec.hostname ?? "",
    rlimits: (p.rlimits ?? []).map((r) => ({ type: r.type, soft: r.soft, hard: r.hard })),
    rootReadonly: spec.root?.readonly ?? false,
    mounts: (spec.mounts ?? []).map((m) => ({ ...m, options: [...(m.options ?? [])] })),
    memoryLimit: memoryLimitOf(spec),
    pidsLimit: pidsLimitOf(spec),
    capabilities: capSetsOf(p.capabilities),
    noNewPrivileges: p.noNewPrivileges ?? false,
  };
}

/** linux.resources.pids.limit when it is a positive number of tasks (0 or -1: no limit given). */
function pidsLimitOf(spec: Spec): number | undefined {
  const pids = spec.linux?.resources?.pids as { limit?: unknown } | undefined;
  const limit = pids?.limit;
  return typeof limit === "number" && Number.isSafeInteger(limit) && limit > 0 ? limit : undefined;
}

const CAP_SET_NAMES = ["bounding", "effective", "permitted", "inheritable", "ambient"] as const;

/**
 * process.capabilities as sets (validated names). Absent, or a set missing from it: empty, as
 * in runc, whose process then has no capability at all, root included (`runsc spec` and
 * `runsc do` write the sets they give).
 */
function capSetsOf(c: Capabilities = {}): CapSets {
  const set = (names: string[] | undefined) =>
    (names ?? []).reduce((acc, n) => acc | capBit(capFromName(n)!), 0n);
  const s = {
    bounding: set(c.bounding),
    effective: set(c.effective),
    permitted: set(c.permitted),
    inheritable: set(c.inheritable),
    ambient: set(c.ambient),
  };
  // Linux's invariants: ambient within permitted and inheritable, effective within permitted.
  s.ambient &= s.permitted & s.inheritable;
  s.effective &= s.permitted;
  return s;
}

/** linux.resources.memory.limit when it is a positive number of bytes. */
function memoryLimitOf(spec: Spec): number | undefined {
  const mem = spec.linux?.resources?.memory as { limit?: unknown } | undefined;
  const limit = mem?.limit;
  return typeof limit === "number" && limit > 0 ? limit : undefined;
}

const DEFAULT_CAPS = ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"];

/** The spec `runsc spec` writes: the same defaults as `runc spec`. */
export function defaultSpec(): Spec {
  return {
    ociVersion: SPEC_VERSION,
    process: {
      terminal: true,
      user: { uid: 0, gid: 0 },
      args: ["sh"],
      env: ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "TERM=xterm"],
      cwd: "/",
      capabilities: {
        bounding: [...DEFAULT_CAPS],
        effective: [...DEFAULT_CAPS],
        permitted: [...DEFAULT_CAPS],
      },
      rlimits: [{ type: "RLIMIT_NOFILE", hard: 1024, soft: 1024 }],
      noNewPrivileges: true,
    },
    root: { path: "rootfs", readonly: true },
    hostname: "runsc",
    mounts: [
      { destination: "/proc", type: "proc", source: "proc" },
      {
        destination: "/dev",
        type: "tmpfs",
        source: "tmpfs",
        options: ["nosuid", "strictatime", "mode=755", "size=65536k"],
      },
      {
        destination: "/dev/pts",
        type: "devpts",
        source: "devpts",
        options: ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"],
      },
      {
        destination: "/dev/shm",
        type: "tmpfs",
        source: "shm",
        options: ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"],
      },
      {
        destination: "/dev/mqueue",
        type: "mqueue",
        source: "mqueue",
        options: ["nosuid", "noexec", "nodev"],
      },
      {
        destination: "/sys",
        type: "sysfs",
        source: "sysfs",
        options: ["nosuid", "noexec", "nodev", "ro"],
      },
    ],
    linux: {
      namespaces: [
        { type: "pid" },
        { type: "network" },
        { type: "ipc" },
        { type: "uts" },
        { type: "mount" },
      ],
      maskedPaths: [
        "/proc/acpi",
        "/proc/kcore",
        "/proc/keys",
        "/proc/latency_stats",
        "/proc/timer_list",
        "/proc/timer_stats",
        "/proc/sched_debug",
        "/sys/firmware",
        "/proc/scsi",
      ],
      readonlyPaths: [
        "/proc/asound",
        "/proc/bus",
        "/proc/fs",
        "/proc/irq",
        "/proc/sys",
        "/proc/sysrq-trigger",
      ],
    },
  };
}

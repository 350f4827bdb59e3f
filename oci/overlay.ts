/**
 * `--overlay2`, the legacy `--overlay`, `--file-access` and `--file-access-mounts`: parsing,
 * defaults and the combinations refused, so that the CLI, `runsc boot` and `runsc gofer` read
 * one meaning from one canonical flag value.
 *
 * Syntax of `--overlay2`: `none`, or `{root|all}:{memory|self|dir=/abs/path}[,size=N]`, or the
 * form in gVisor's guide `{root|all}:/abs/path` (the same as `dir=`). `size` takes bytes with an
 * optional K, M, G or T suffix (powers of 1024). `--overlay` means `all:memory`.
 *
 * Default: `root:self`; but `--file-access=shared` given without an overlay flag turns it to
 * `none` (shared access means changes made outside must be seen, which an overlay hides), and
 * shared access together with an overlay of the root is refused, naming both flags.
 *
 * @module
 */

import { isAbsolute, normalize } from "../path.ts";
import { UsageError } from "./flags.ts";

/** Which mounts get an overlay. */
export type OverlayScope = "none" | "root" | "all";
/** Where the overlay's upper layer keeps file data. */
export type OverlayMedium = "memory" | "self" | "dir";

/** A parsed --overlay2 value. */
export interface Overlay2 {
  scope: OverlayScope;
  /** Absent when scope is "none". */
  medium?: OverlayMedium;
  /** For medium "dir": the absolute host directory that holds the filestore. */
  dir?: string;
  /** Upper layer size limit in bytes, when given. */
  size?: number;
}

/** File access modes. */
export type FileAccess = "exclusive" | "shared";

/** The file configuration the sandbox runs with. */
export interface FileConfig {
  overlay2: Overlay2;
  fileAccess: FileAccess;
  fileAccessMounts: FileAccess;
}

const SUFFIX: Record<string, number> = { "": 1, k: 1 << 10, m: 1 << 20, g: 1 << 30, t: 2 ** 40 };

function parseSize(v: string, flag: string): number {
  const m = /^(\d+)([kmgt]?)b?$/i.exec(v);
  if (!m) throw new UsageError(`${flag}: invalid size ${JSON.stringify(v)} (e.g. 512m, 2g)`);
  const n = Number(m[1]) * SUFFIX[m[2].toLowerCase()];
  if (!Number.isSafeInteger(n) || n === 0) {
    throw new UsageError(`${flag}: size ${JSON.stringify(v)} out of range`);
  }
  return n;
}

/** Parses an --overlay2 value; throws UsageError naming the flag and what was wrong. */
export function parseOverlay2(value: string): Overlay2 {
  const flag = `--overlay2=${value}`;
  if (value === "none") return { scope: "none" };
  const colon = value.indexOf(":");
  if (colon < 0) {
    throw new UsageError(
      `${flag}: expected "none" or {root|all}:{memory|self|dir=/abs/path}[,size=N]`,
    );
  }
  const scope = value.slice(0, colon);
  if (scope !== "root" && scope !== "all") {
    throw new UsageError(
      `${flag}: the mount scope must be "root" or "all", got ${JSON.stringify(scope)}`,
    );
  }
  const [medium, ...opts] = value.slice(colon + 1).split(",");
  const out: Overlay2 = { scope };
  if (medium === "memory" || medium === "self") {
    out.medium = medium;
  } else if (medium.startsWith("dir=") || medium.startsWith("/")) {
    const dir = medium.startsWith("dir=") ? medium.slice(4) : medium;
    if (!isAbsolute(dir)) {
      throw new UsageError(`${flag}: the filestore directory must be an absolute path`);
    }
    out.medium = "dir";
    out.dir = normalize(dir);
  } else {
    throw new UsageError(
      `${flag}: the medium must be "memory", "self" or "dir=/abs/path", got ${
        JSON.stringify(medium)
      }`,
    );
  }
  for (const o of opts) {
    if (o.startsWith("size=")) {
      if (out.size !== undefined) throw new UsageError(`${flag}: size given twice`);
      out.size = parseSize(o.slice(5), flag);
    } else {
      throw new UsageError(`${flag}: unknown option ${JSON.stringify(o)} (only size=N)`);
    }
  }
  return out;
}

/** The canonical text of a parsed value: what boot and gofer receive as --overlay2. */
export function formatOverlay2(o: Overlay2): string {
  if (o.scope === "none") return "none";
  const medium = o.medium === "dir" ? `dir=${o.dir}` : o.medium;
  return `${o.scope}:${medium}${o.size !== undefined ? `,size=${o.size}` : ""}`;
}

function parseAccess(v: string | undefined, flag: string, dflt: FileAccess): FileAccess {
  if (v === undefined || v === "") return dflt;
  if (v !== "exclusive" && v !== "shared") {
    throw new UsageError(`--${flag}: expected "exclusive" or "shared", got ${JSON.stringify(v)}`);
  }
  return v;
}

/**
 * The file configuration from the flags as given (undefined: not given). Applies the defaults
 * and refuses --file-access=shared with an overlay of the root.
 */
export function fileConfig(given: {
  overlay2?: string;
  overlay?: boolean;
  fileAccess?: string;
  fileAccessMounts?: string;
}): FileConfig {
  const fileAccess = parseAccess(given.fileAccess, "file-access", "exclusive");
  const fileAccessMounts = parseAccess(given.fileAccessMounts, "file-access-mounts", "shared");
  let overlay2: Overlay2;
  let source: string;
  const explicit = given.overlay2 !== undefined && given.overlay2 !== "";
  if (given.overlay) {
    if (explicit && formatOverlay2(parseOverlay2(given.overlay2!)) !== "all:memory") {
      throw new UsageError(
        `--overlay (all:memory) conflicts with --overlay2=${given.overlay2}; give only one`,
      );
    }
    overlay2 = { scope: "all", medium: "memory" };
    source = "--overlay";
  } else if (explicit) {
    overlay2 = parseOverlay2(given.overlay2!);
    source = `--overlay2=${given.overlay2}`;
  } else {
    // shared access asks to see changes made outside; the default overlay would hide them.
    overlay2 = fileAccess === "shared" ? { scope: "none" } : { scope: "root", medium: "self" };
    source = "";
  }
  if (fileAccess === "shared" && overlay2.scope !== "none") {
    throw new UsageError(
      `--file-access=shared cannot be combined with ${source}: an overlay of the root hides ` +
        `changes made outside the sandbox; use --overlay2=none with --file-access=shared`,
    );
  }
  return { overlay2, fileAccess, fileAccessMounts };
}

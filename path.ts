/**
 * POSIX path names for every role (CLI, boot, gofer): the part of node:path the program uses,
 * with node:path's results. Importing any `node:` module starts Deno's Node compatibility layer,
 * which costs each process about 6 ms at start; none of the roles needs it otherwise.
 *
 * @module
 */

/** Whether `p` is absolute. */
export function isAbsolute(p: string): boolean {
  return p.startsWith("/");
}

/** `p` with `.`, `..` and repeated slashes resolved; a trailing slash is kept. */
export function normalize(p: string): string {
  if (p === "") return ".";
  const abs = isAbsolute(p);
  const trailing = p.endsWith("/");
  const out: string[] = [];
  for (const part of p.split("/")) {
    if (part === "" || part === ".") continue;
    if (part === "..") {
      if (out.length && out[out.length - 1] !== "..") out.pop();
      else if (!abs) out.push("..");
      continue;
    }
    out.push(part);
  }
  let s = (abs ? "/" : "") + out.join("/");
  if (s === "") return abs ? "/" : trailing ? "./" : ".";
  if (trailing && s !== "/") s += "/";
  return s;
}

/** The parts joined by `/` and normalized ("." when all are empty). */
export function join(...parts: string[]): string {
  const joined = parts.filter((p) => p !== "").join("/");
  return joined === "" ? "." : normalize(joined);
}

/** The absolute path of the parts taken from the right (the working directory if none is). */
export function resolve(...parts: string[]): string {
  let path = "";
  for (let i = parts.length - 1; i >= 0 && !isAbsolute(path); i--) {
    if (parts[i] !== "") path = path ? `${parts[i]}/${path}` : parts[i];
  }
  if (!isAbsolute(path)) path = path ? `${Deno.cwd()}/${path}` : Deno.cwd();
  const n = normalize(path);
  return n.length > 1 && n.endsWith("/") ? n.slice(0, -1) : n;
}

/** The directory part of `p` (as node:path gives it: slashes before the last part are kept). */
export function dirname(p: string): string {
  if (p === "") return ".";
  const abs = p.startsWith("/");
  let end = -1;
  let sawName = false;
  for (let i = p.length - 1; i >= 1; i--) {
    if (p[i] !== "/") sawName = true;
    else if (sawName) {
      end = i;
      break;
    }
  }
  if (end === -1) return abs ? "/" : ".";
  if (abs && end === 1) return "//";
  return p.slice(0, end);
}

/** The last part of `p` (trailing slashes ignored), without `ext` when it ends with it. */
export function basename(p: string, ext?: string): string {
  let end = p.length;
  while (end > 0 && p[end - 1] === "/") end--;
  const base = p.slice(p.lastIndexOf("/", end - 1) + 1, end);
  return ext && base !== ext && base.endsWith(ext) ? base.slice(0, -ext.length) : base;
}

/** The path of a `file:` URL. */
export function fileURLToPath(url: string | URL): string {
  const u = typeof url === "string" ? new URL(url) : url;
  if (u.protocol !== "file:") throw new TypeError(`path: not a file URL: ${u.href}`);
  return decodeURIComponent(u.pathname);
}

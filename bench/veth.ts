/**
 * The network of a veth workload (bench/runtime.ts): a namespace holding one end of a veth
 * pair, the other end in the host's namespace with the peer server (bench_net_veth serve)
 * listening on it. The container runs in the namespace: ours and gVisor's runsc take the
 * interface over with --network=sandbox (each removes its address from the namespace, so
 * `reset` puts it back before every run), natively the program runs there under
 * `ip netns exec`.
 *
 * @module
 */

/** The addresses of a veth workload: the peer's (host side) and the container's. */
export const VETH_SUBNET = "10.96.77";
export const VETH_PEER = `${VETH_SUBNET}.1`;
export const VETH_CONTAINER = `${VETH_SUBNET}.2`;
export const VETH_PORT = 5199;

async function ip(...args: string[]): Promise<void> {
  const r = await new Deno.Command("ip", { args, stdout: "null", stderr: "piped" }).output();
  if (!r.success) {
    throw new Error(`ip ${args.join(" ")}: ${new TextDecoder().decode(r.stderr).trim()}`);
  }
}

export interface VethNetwork {
  /** The namespace's name (under /var/run/netns). */
  ns: string;
  /** Gives the container's end its address and route again (a sandbox took them). */
  reset(): Promise<void>;
  close(): Promise<void>;
}

/** Sets up the namespace and veth, and starts the peer (the program at `peer`, natively). */
export async function vethNetwork(peer: string): Promise<VethNetwork> {
  const tag = `${Deno.pid % 100000}`;
  const ns = `runsc-bench-${tag}`, hostIf = `rbh${tag}`, nsIf = `rbc${tag}`;
  let server: Deno.ChildProcess | undefined;
  const close = async () => {
    try {
      server?.kill("SIGKILL");
      await server?.status;
    } catch { /* already gone */ }
    await ip("netns", "del", ns).catch(() => {});
    await ip("link", "del", hostIf).catch(() => {});
  };
  const reset = async () => {
    await ip("-n", ns, "addr", "replace", `${VETH_CONTAINER}/24`, "dev", nsIf);
    await ip("-n", ns, "link", "set", nsIf, "up");
    await ip("-n", ns, "route", "replace", "default", "via", VETH_PEER);
  };
  try {
    await ip("netns", "add", ns);
    await ip("link", "add", hostIf, "type", "veth", "peer", "name", nsIf);
    await ip("link", "set", nsIf, "netns", ns);
    await ip("addr", "add", `${VETH_PEER}/24`, "dev", hostIf);
    await ip("link", "set", hostIf, "up");
    await ip("-n", ns, "link", "set", "lo", "up");
    await reset();
    server = new Deno.Command(peer, {
      args: ["serve", VETH_PEER, String(VETH_PORT)],
      stdin: "null",
      stdout: "piped",
      stderr: "inherit",
    }).spawn();
    // The peer is listening once it says so.
    const reader = server.stdout.getReader();
    const { value } = await reader.read();
    reader.releaseLock();
    if (!new TextDecoder().decode(value).includes("ready")) throw new Error("peer did not start");
    return { ns, reset, close };
  } catch (e) {
    await close();
    throw e;
  }
}

/**
 * Network probes: TCP and UDP over the Sentry's loopback stack (--network=none), compared
 * with the same program in a network namespace of its own with only loopback up.
 */

import { probeTests } from "./probe.ts";

probeTests([
  { prog: "net_udp", loopbackOnly: true, runscFlags: ["--network=none"] },
  { prog: "net_tcp", loopbackOnly: true, runscFlags: ["--network=none"] },
  { prog: "net_ifaces", loopbackOnly: true, runscFlags: ["--network=none"] },
  { prog: "net_hostile", loopbackOnly: true, runscFlags: ["--network=none"] },
  { prog: "net_ping", loopbackOnly: true, runscFlags: ["--network=none"] },
  { prog: "net_sendfile", loopbackOnly: true, runscFlags: ["--network=none"] },
  { prog: "net_udplite", loopbackOnly: true, runscFlags: ["--network=none"] },
  { prog: "net_bind_service", loopbackOnly: true, runscFlags: ["--network=none"] },
  { prog: "net_cmsg", loopbackOnly: true, runscFlags: ["--network=none"] },
  { prog: "net_accept_emfile", loopbackOnly: true, runscFlags: ["--network=none"] },
  { prog: "net_sockioctl", loopbackOnly: true, runscFlags: ["--network=none"] },
  { prog: "net_origdst", loopbackOnly: true, runscFlags: ["--network=none"] },
  { prog: "net_unix_cmsg_trunc", loopbackOnly: true, runscFlags: ["--network=none"] },
  // The host's interfaces, as natively in the host's namespace.
  { prog: "net_getifaddrs", runscFlags: ["--network=host"] },
]);

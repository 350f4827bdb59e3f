/**
 * Network probes: TCP and UDP over the Sentry's loopback stack (--network=none), compared
 * with the same program in a network namespace of its own with only loopback up.
 */

import { probeTests } from "./probe.ts";

probeTests([
  { prog: "net_udp", loopbackOnly: true, runscFlags: ["--network=none"] },
  { prog: "net_tcp", loopbackOnly: true, runscFlags: ["--network=none"] },
  { prog: "net_tcp_stream", loopbackOnly: true, runscFlags: ["--network=none"] },
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
  { prog: "net_tcp_flowinfo", loopbackOnly: true, runscFlags: ["--network=none"] },
  { prog: "net_unix_cmsg_trunc", loopbackOnly: true, runscFlags: ["--network=none"] },
  // The host's interfaces, as natively in the host's namespace: one made for the test (other
  // tests add veths to the host's own while this runs).
  {
    prog: "net_getifaddrs",
    runscFlags: ["--network=host"],
    netns: [
      ["link", "set", "lo", "up"],
      // No link-local IPv6 addresses: the kernel adds them a while after the link comes up,
      // maybe between the two runs.
      ["link", "add", "eth0", "type", "veth", "peer", "name", "eth1"],
      ["link", "set", "eth0", "addrgenmode", "none"],
      ["link", "set", "eth1", "addrgenmode", "none"],
      ["link", "set", "eth0", "mtu", "1400", "up"],
      ["link", "set", "eth1", "up"],
      ["addr", "add", "192.0.2.2/24", "dev", "eth0"],
      ["addr", "add", "fd00::2/64", "dev", "eth0", "nodad"],
      ["addr", "add", "10.0.3.1/8", "dev", "eth1"],
    ],
  },
]);

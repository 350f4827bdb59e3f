// IPV6_FLOWINFO_SEND on TCP over loopback: connect(2) takes the flow label of sin6_flowinfo,
// every segment of the connection carries it, and getpeername shows the flow information kept
// (its ECN bits cleared); without the option the label is not taken. The receiver learns the
// label from IPV6_FLOWINFO and getsockopt(IPV6_2292PKTOPTIONS), which on TCP answers the control
// messages of the last segment received. Automatic flow labels (a hash with a random key on
// Linux) are turned off on the sender.
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "probe.h"

#ifndef IPV6_FLOWINFO
#define IPV6_FLOWINFO 11
#endif
#ifndef IPV6_FLOWINFO_SEND
#define IPV6_FLOWINFO_SEND 33
#endif
#ifndef IPV6_AUTOFLOWLABEL
#define IPV6_AUTOFLOWLABEL 70
#endif

/** Prints the control messages getsockopt(IPV6_2292PKTOPTIONS) answers on s in room bytes. */
static void pktoptions_in(int s, const char *what, socklen_t room) {
  unsigned char ctl[256];
  memset(ctl, 0xee, sizeof ctl);
  socklen_t len = room;
  if (getsockopt(s, SOL_IPV6, IPV6_2292PKTOPTIONS, ctl, &len) < 0) {
    printf("%s: pktoptions: %s\n", what, strerror(errno));
    return;
  }
  printf("%s: pktoptions len %u", what, len);
  for (socklen_t off = 0; off + sizeof(struct cmsghdr) <= len;) {
    struct cmsghdr *c = (struct cmsghdr *)(ctl + off);
    if (c->cmsg_len < sizeof(struct cmsghdr) || off + c->cmsg_len > len) break;
    printf(", level %d type %d:", c->cmsg_level, c->cmsg_type);
    for (size_t i = sizeof(struct cmsghdr); i < c->cmsg_len; i++) printf(" %02x", ctl[off + i]);
    off += CMSG_ALIGN(c->cmsg_len);
  }
  printf("\n");
}

static void pktoptions(int s, const char *what) { pktoptions_in(s, what, 256); }

static void run(unsigned flowinfo, int send_opt, int tclass) {
  printf("-- sin6_flowinfo %#x, IPV6_FLOWINFO_SEND %d, IPV6_TCLASS %#x\n", flowinfo, send_opt,
         tclass);
  int one = 1, zero = 0;
  int l = socket(AF_INET6, SOCK_STREAM, 0);
  struct sockaddr_in6 a = {.sin6_family = AF_INET6, .sin6_addr = in6addr_loopback};
  socklen_t al = sizeof a;
  show("IPV6_FLOWINFO on the listener", setsockopt(l, SOL_IPV6, IPV6_FLOWINFO, &one, sizeof one));
  if (tclass) {
    show("IPV6_RECVTCLASS on the listener",
         setsockopt(l, SOL_IPV6, IPV6_RECVTCLASS, &one, sizeof one));
  }
  if (bind(l, (struct sockaddr *)&a, sizeof a) < 0 || listen(l, 1) < 0 ||
      getsockname(l, (struct sockaddr *)&a, &al) < 0) {
    show("listen", -1);
    return;
  }
  int c = socket(AF_INET6, SOCK_STREAM, 0);
  show("IPV6_AUTOFLOWLABEL 0", setsockopt(c, SOL_IPV6, IPV6_AUTOFLOWLABEL, &zero, sizeof zero));
  if (tclass) show("IPV6_TCLASS", setsockopt(c, SOL_IPV6, IPV6_TCLASS, &tclass, sizeof tclass));
  if (send_opt) {
    show("IPV6_FLOWINFO_SEND", setsockopt(c, SOL_IPV6, IPV6_FLOWINFO_SEND, &one, sizeof one));
  }
  a.sin6_flowinfo = htonl(flowinfo);
  show("connect", connect(c, (struct sockaddr *)&a, sizeof a));
  struct sockaddr_in6 p;
  socklen_t pl = sizeof p;
  show("getpeername", getpeername(c, (struct sockaddr *)&p, &pl));
  printf("peer's flowinfo %#x\n", ntohl(p.sin6_flowinfo));
  int s = accept(l, NULL, NULL);
  show("accept", s);
  int v = -1;
  socklen_t vl = sizeof v;
  show("IPV6_FLOWINFO inherited", getsockopt(s, SOL_IPV6, IPV6_FLOWINFO, &v, &vl) < 0 ? -1 : v);
  pktoptions(s, "accepted");
  char b[8];
  show("write", write(c, "data", 4));
  show("read", read(s, b, sizeof b));
  pktoptions(s, "after data");
  // Too short for all: cut as recvmsg cuts control messages.
  pktoptions_in(s, "in 28 bytes", 28);
  pktoptions_in(s, "in 20 bytes", 20);
  pktoptions_in(s, "in 18 bytes", 18);
  pktoptions_in(s, "in 10 bytes", 10);
  show("answer", write(s, "back", 4));
  show("read", read(c, b, sizeof b));
  pktoptions(c, "sender, no IPV6_FLOWINFO");
  close(c);
  close(s);
  close(l);
}

int main(void) {
  run(0x12345, 1, 0);
  // The traffic class bits of sin6_flowinfo do not go out (the socket's do), and the two ECN
  // bits are dropped from what connect keeps.
  run(0x0a912345, 1, 0);
  run(0x12345, 0, 0);
  run(0, 1, 0);
  run(0x54321, 1, 0x28);
  run(0, 0, 0x28);
  return 0;
}

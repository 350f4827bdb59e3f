// accept4 at the descriptor limit (RLIMIT_NOFILE): Linux makes sure of a descriptor before it
// looks at the queue, so the call fails with EMFILE, with a connection waiting or none, and
// the waiting connection stays queued for the next accept once a descriptor is free. For TCP
// over loopback and for a Unix stream socket (autobound to an abstract name).
#define _GNU_SOURCE
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "probe.h"

// Lowers RLIMIT_NOFILE to the lowest free descriptor (whatever the process inherited above
// it), so that the next descriptor made fails with EMFILE; returns the old limit.
static struct rlimit at_limit(int any) {
  struct rlimit old, now;
  getrlimit(RLIMIT_NOFILE, &old);
  now = old;
  int next = dup(any);
  close(next);
  now.rlim_cur = next;
  setrlimit(RLIMIT_NOFILE, &now);
  return old;
}

static void check(const char *what, int domain) {
  printf("-- %s\n", what);
  int l = socket(domain, SOCK_STREAM | SOCK_NONBLOCK, 0);
  struct sockaddr_storage a = {0};
  socklen_t len;
  if (domain == AF_INET) {
    struct sockaddr_in *in = (struct sockaddr_in *)&a;
    in->sin_family = AF_INET;
    in->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    len = sizeof *in;
  } else {
    a.ss_family = AF_UNIX;
    len = sizeof(sa_family_t);  // autobind
  }
  show("bind", bind(l, (struct sockaddr *)&a, len));
  show("listen", listen(l, 4));
  len = sizeof a;
  getsockname(l, (struct sockaddr *)&a, &len);

  struct rlimit old = at_limit(l);
  show("accept at the limit, nothing queued", accept4(l, NULL, NULL, 0));
  setrlimit(RLIMIT_NOFILE, &old);

  int c = socket(domain, SOCK_STREAM, 0);
  show("connect", connect(c, (struct sockaddr *)&a, len));
  show("write", write(c, "hello", 5));
  struct pollfd p = {.fd = l, .events = POLLIN};
  show("poll listener", poll(&p, 1, 10000));

  old = at_limit(c);
  show("accept at the limit, one queued", accept4(l, NULL, NULL, 0));
  show("accept4 nonblocking flag at the limit", accept4(l, NULL, NULL, SOCK_NONBLOCK));
  setrlimit(RLIMIT_NOFILE, &old);
  p.revents = 0;
  show("poll listener still readable", poll(&p, 1, 0));

  int s = accept4(l, NULL, NULL, 0);
  show("accept after raising the limit", s < 0 ? -1 : 0);
  char buf[16] = {0};
  show("read the queued connection's data", read(s, buf, sizeof buf - 1));
  printf("data: %s\n", buf);
  show("accept again", accept4(l, NULL, NULL, 0));
  close(s);
  close(c);
  close(l);
}

int main(void) {
  check("tcp", AF_INET);
  check("unix", AF_UNIX);
  return 0;
}

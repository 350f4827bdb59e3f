// recvmsg on a Unix socket with SO_PASSCRED and too little control room: Linux writes as much
// of the SCM_CREDENTIALS message as fits (a header whose cmsg_len is the room left, the start
// of the ucred) with MSG_CTRUNC, and msg_controllen counts what it used; the SCM_RIGHTS after
// it takes the descriptors that fit in what is left. Each case prints what recvmsg gave back.
#define _GNU_SOURCE
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "probe.h"

static void one(int r, int w, size_t room, int nfds) {
  char data = 'x';
  struct iovec iov = {&data, 1};
  union {
    char buf[CMSG_SPACE(3 * sizeof(int))];
    struct cmsghdr align;
  } out;
  struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1};
  if (nfds > 0) {
    m.msg_control = out.buf;
    m.msg_controllen = CMSG_SPACE(nfds * sizeof(int));
    struct cmsghdr *c = CMSG_FIRSTHDR(&m);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(nfds * sizeof(int));
    for (int i = 0; i < nfds; i++) ((int *)CMSG_DATA(c))[i] = w;
  }
  if (sendmsg(w, &m, 0) != 1) printf("sendmsg: %s\n", strerror(errno));

  unsigned char in[256];
  memset(in, 0xee, sizeof in);
  struct msghdr h = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = in, .msg_controllen = room};
  long n = recvmsg(r, &h, 0);
  printf("room %zu, %d fds: recvmsg %ld, controllen %zu, ctrunc %d", room, nfds, n,
         (size_t)h.msg_controllen, (h.msg_flags & MSG_CTRUNC) != 0);
  // Walk what was written by hand: CMSG_NXTHDR refuses a truncated header.
  struct ucred me = {getpid(), getuid(), getgid()};
  for (size_t off = 0; off + sizeof(struct cmsghdr) <= h.msg_controllen;) {
    struct cmsghdr *c = (struct cmsghdr *)(in + off);
    printf(" | len %zu level %d type %d", (size_t)c->cmsg_len, c->cmsg_level, c->cmsg_type);
    size_t body = c->cmsg_len - sizeof(struct cmsghdr);
    if (c->cmsg_type == SCM_CREDENTIALS) {
      printf(" creds %s", memcmp(CMSG_DATA(c), &me, body) == 0 ? "match" : "differ");
    } else if (c->cmsg_type == SCM_RIGHTS) {
      for (size_t i = 0; i + sizeof(int) <= body; i += sizeof(int)) {
        int fd;
        memcpy(&fd, CMSG_DATA(c) + i, sizeof fd);
        printf(" fd%s", fd >= 0 ? "" : "?");
        close(fd);
      }
    }
    off += CMSG_ALIGN(c->cmsg_len);
    if (c->cmsg_len < sizeof(struct cmsghdr)) break;
  }
  // The byte after what recvmsg says it used is untouched.
  if (h.msg_controllen < sizeof in) printf(" | next byte %s", in[h.msg_controllen] == 0xee ? "untouched" : "written");
  printf("\n");
}

int main(void) {
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_DGRAM, 0, sv) < 0) return 1;
  int on = 1;
  setsockopt(sv[0], SOL_SOCKET, SO_PASSCRED, &on, sizeof on);
  size_t rooms[] = {0, 8, 15, 16, 20, 24, 27, 28, 31, 32, 36, 40, 44, 48, 52, 56, 64, 128};
  for (size_t i = 0; i < sizeof rooms / sizeof *rooms; i++) one(sv[0], sv[1], rooms[i], 0);
  for (size_t i = 0; i < sizeof rooms / sizeof *rooms; i++) one(sv[0], sv[1], rooms[i], 1);
  for (size_t i = 0; i < sizeof rooms / sizeof *rooms; i++) one(sv[0], sv[1], rooms[i], 3);
  return 0;
}

// Unix domain sockets: socketpair (stream, dgram, seqpacket), bind/listen/accept/connect on a
// path and an abstract name, shutdown, SCM_RIGHTS across fork, SCM_CREDENTIALS, sockopts.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fs_setup.h"
#include "probe.h"

static int send_fd(int sock, int fd, const char *msg) {
  char cbuf[CMSG_SPACE(sizeof(int))];
  memset(cbuf, 0, sizeof cbuf);
  struct iovec iov = {(void *)msg, strlen(msg)};
  struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf,
                     .msg_controllen = sizeof cbuf};
  struct cmsghdr *c = CMSG_FIRSTHDR(&m);
  c->cmsg_level = SOL_SOCKET;
  c->cmsg_type = SCM_RIGHTS;
  c->cmsg_len = CMSG_LEN(sizeof(int));
  memcpy(CMSG_DATA(c), &fd, sizeof fd);
  return sendmsg(sock, &m, 0);
}

static int recv_fd(int sock, char *buf, int len) {
  char cbuf[CMSG_SPACE(sizeof(int))];
  struct iovec iov = {buf, len};
  struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf,
                     .msg_controllen = sizeof cbuf};
  int n = recvmsg(sock, &m, 0);
  if (n < 0) return -1;
  buf[n] = 0;
  struct cmsghdr *c = CMSG_FIRSTHDR(&m);
  if (!c || c->cmsg_type != SCM_RIGHTS) return -2;
  int fd;
  memcpy(&fd, CMSG_DATA(c), sizeof fd);
  return fd;
}

int main(void) {
  fs_setup();
  char dir[] = "/tmp/fsunix.XXXXXX";
  mkdtemp(dir);
  chdir(dir);
  char buf[256];

  // socketpair stream.
  int sv[2];
  show("socketpair stream", socketpair(AF_UNIX, SOCK_STREAM, 0, sv));
  show("write", write(sv[0], "hello", 5));
  show("write", write(sv[0], " world", 6));
  memset(buf, 0, sizeof buf);
  show("read joins", read(sv[1], buf, sizeof buf));
  printf("got '%s'\n", buf);
  show("shutdown wr", shutdown(sv[0], SHUT_WR));
  show("read after peer shutdown", read(sv[1], buf, sizeof buf));
  show("write after shutdown", send(sv[0], "x", 1, MSG_NOSIGNAL));
  show("write back", write(sv[1], "back", 4));
  show("read back", read(sv[0], buf, sizeof buf));
  close(sv[1]);
  show("send to closed peer", send(sv[0], "x", 1, MSG_NOSIGNAL));
  close(sv[0]);

  // dgram and seqpacket keep boundaries.
  socketpair(AF_UNIX, SOCK_DGRAM, 0, sv);
  send(sv[0], "one", 3, 0);
  send(sv[0], "two!", 4, 0);
  show("dgram recv", recv(sv[1], buf, sizeof buf, 0));
  show("dgram recv", recv(sv[1], buf, sizeof buf, 0));
  send(sv[0], "truncated", 9, 0);
  show("dgram recv short", recv(sv[1], buf, 4, 0));
  show("dgram nonblock empty", recv(sv[1], buf, sizeof buf, MSG_DONTWAIT));
  close(sv[0]); close(sv[1]);
  socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv);
  send(sv[0], "abc", 3, 0);
  send(sv[0], "defgh", 5, 0);
  show("seqpacket recv", recv(sv[1], buf, sizeof buf, 0));
  show("seqpacket peek", recv(sv[1], buf, sizeof buf, MSG_PEEK));
  show("seqpacket recv", recv(sv[1], buf, sizeof buf, 0));
  close(sv[0]);
  show("seqpacket eof", recv(sv[1], buf, sizeof buf, 0));
  close(sv[1]);

  // Named sockets.
  int srv = socket(AF_UNIX, SOCK_STREAM, 0);
  struct sockaddr_un a = {.sun_family = AF_UNIX};
  strcpy(a.sun_path, "sock");
  socklen_t alen = offsetof(struct sockaddr_un, sun_path) + 5;
  show("bind path", bind(srv, (struct sockaddr *)&a, alen));
  struct stat st;
  stat("sock", &st);
  printf("socket file: %s\n", S_ISSOCK(st.st_mode) ? "yes" : "no");
  show("bind again", bind(socket(AF_UNIX, SOCK_STREAM, 0), (struct sockaddr *)&a, alen));
  int early = socket(AF_UNIX, SOCK_STREAM, 0);
  show("connect before listen", connect(early, (struct sockaddr *)&a, alen));
  show("listen", listen(srv, 5));
  int opt = 0;
  socklen_t ol = sizeof opt;
  getsockopt(srv, SOL_SOCKET, SO_ACCEPTCONN, &opt, &ol);
  printf("SO_ACCEPTCONN: %d\n", opt);
  getsockopt(srv, SOL_SOCKET, SO_TYPE, &opt, &ol);
  printf("SO_TYPE: %d\n", opt);
  int cli = socket(AF_UNIX, SOCK_STREAM, 0);
  show("connect", connect(cli, (struct sockaddr *)&a, alen));
  struct pollfd pf = {srv, POLLIN, 0};
  show("poll listener", poll(&pf, 1, 1000));
  struct sockaddr_un peer;
  socklen_t plen = sizeof peer;
  int acc = accept4(srv, (struct sockaddr *)&peer, &plen, SOCK_CLOEXEC);
  show("accept", acc >= 0 ? 0 : -1);
  printf("accepted peer addr len: %d\n", (int)plen);
  plen = sizeof peer;
  getsockname(acc, (struct sockaddr *)&peer, &plen);
  printf("accepted sockname: %s\n", peer.sun_path);
  plen = sizeof peer;
  getpeername(cli, (struct sockaddr *)&peer, &plen);
  printf("client peername: %s\n", peer.sun_path);
  struct ucred cr;
  socklen_t cl = sizeof cr;
  getsockopt(acc, SOL_SOCKET, SO_PEERCRED, &cr, &cl);
  printf("peercred pid ok: %s uid %d\n", cr.pid == getpid() ? "yes" : "no", cr.uid);
  show("client send", send(cli, "ping", 4, 0));
  show("server recv", recv(acc, buf, sizeof buf, 0));
  show("getpeername unconnected", getpeername(early, (struct sockaddr *)&peer, &plen));
  show("connect missing", connect(early, (struct sockaddr *)&(struct sockaddr_un){AF_UNIX, "nosuch"}, alen + 2));
  int fd = open("regular", O_CREAT | O_RDWR, 0600);
  close(fd);
  show("connect to regular file", connect(early, (struct sockaddr *)&(struct sockaddr_un){AF_UNIX, "regular"}, sizeof(struct sockaddr_un)));
  fcntl(srv, F_SETFL, O_NONBLOCK);
  show("accept none pending", accept(srv, NULL, NULL));

  // Abstract names.
  int as = socket(AF_UNIX, SOCK_DGRAM, 0);
  struct sockaddr_un ab = {.sun_family = AF_UNIX};
  memcpy(ab.sun_path, "\0runsc-probe-abstract", 21);
  socklen_t ablen = offsetof(struct sockaddr_un, sun_path) + 21;
  show("bind abstract", bind(as, (struct sockaddr *)&ab, ablen));
  int ac = socket(AF_UNIX, SOCK_DGRAM, 0);
  show("sendto abstract", sendto(ac, "dg", 2, 0, (struct sockaddr *)&ab, ablen));
  show("recv abstract", recv(as, buf, sizeof buf, 0));
  struct sockaddr_un got;
  socklen_t glen = sizeof got;
  getsockname(as, (struct sockaddr *)&got, &glen);
  printf("abstract name len %d first byte %d\n", (int)glen, got.sun_path[0]);
  show("autobind", bind(ac, (struct sockaddr *)&(struct sockaddr_un){AF_UNIX}, 2));
  glen = sizeof got;
  getsockname(ac, (struct sockaddr *)&got, &glen);
  printf("autobind len %d\n", (int)glen);

  // SCM_RIGHTS to a child.
  socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
  int file = open("passed", O_CREAT | O_RDWR | O_TRUNC, 0600);
  write(file, "through SCM_RIGHTS", 18);
  fflush(stdout);
  pid_t child = fork();
  if (child == 0) {
    close(sv[0]);
    char b[64];
    int got = recv_fd(sv[1], b, sizeof b - 1);
    printf("child got message '%s', fd %s\n", b, got >= 0 ? "valid" : "missing");
    char data[64] = {0};
    pread(got, data, sizeof data - 1, 0);
    printf("child reads: %s\n", data);
    lseek(got, 8, SEEK_SET);
    fflush(stdout);
    write(sv[1], "k", 1);
    _exit(0);
  }
  close(sv[1]);
  show("send fd", send_fd(sv[0], file, "here"));
  close(file);
  read(sv[0], buf, 1);
  waitpid(child, NULL, 0);
  close(sv[0]);

  // SCM_CREDENTIALS.
  socketpair(AF_UNIX, SOCK_DGRAM, 0, sv);
  int on = 1;
  setsockopt(sv[1], SOL_SOCKET, SO_PASSCRED, &on, sizeof on);
  send(sv[0], "c", 1, 0);
  char cbuf[CMSG_SPACE(sizeof(struct ucred))];
  struct iovec iov = {buf, sizeof buf};
  struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf,
                     .msg_controllen = sizeof cbuf};
  show("recvmsg creds", recvmsg(sv[1], &m, 0));
  struct cmsghdr *c = CMSG_FIRSTHDR(&m);
  if (c && c->cmsg_type == SCM_CREDENTIALS) {
    struct ucred u;
    memcpy(&u, CMSG_DATA(c), sizeof u);
    printf("creds pid ok: %s uid %d gid %d\n", u.pid == getpid() ? "yes" : "no", u.uid, u.gid);
  } else {
    printf("no creds\n");
  }
  // msg_namelen: left alone without a name buffer, 0 for an unnamed sender.
  send(sv[0], "n", 1, 0);
  m.msg_control = NULL;
  m.msg_controllen = 0;
  m.msg_namelen = 77;
  show("recvmsg without name", recvmsg(sv[1], &m, 0));
  printf("namelen %d\n", (int)m.msg_namelen);
  struct sockaddr_un from;
  send(sv[0], "n", 1, 0);
  m.msg_name = &from;
  m.msg_namelen = sizeof from;
  show("recvmsg unnamed sender", recvmsg(sv[1], &m, 0));
  printf("namelen %d\n", (int)m.msg_namelen);
  send(sv[0], "n", 1, 0);
  socklen_t fromlen = sizeof from;
  show("recvfrom unnamed sender", recvfrom(sv[1], buf, 1, 0, (struct sockaddr *)&from, &fromlen));
  printf("fromlen %d\n", (int)fromlen);
  show("socket AF_INET6 unsupported type", socket(AF_UNIX, 99, 0));
  return 0;
}

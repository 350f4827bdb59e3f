// Pipes (PIPE_BUF atomicity with many writers, capacity, EOF, EPIPE/SIGPIPE, nonblocking),
// eventfd, poll, select, epoll (level and edge triggered, oneshot).
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/select.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include "probe.h"

int main(int argc, char **argv) {
  int p[2];
  if (argc > 1 && !strcmp(argv[1], "sigpipe")) {
    pipe(p);
    close(p[0]);
    printf("writing to a pipe without readers\n");
    fflush(stdout);
    write(p[1], "x", 1);
    printf("not reached\n");
    return 0;
  }

  show("pipe", pipe(p));
  struct stat st;
  fstat(p[0], &st);
  printf("fifo: %s\n", S_ISFIFO(st.st_mode) ? "yes" : "no");
  show("GETPIPE_SZ", fcntl(p[0], F_GETPIPE_SZ));
  show("write", write(p[1], "hello", 5));
  int avail = 0;
  ioctl(p[0], FIONREAD, &avail);
  printf("FIONREAD: %d\n", avail);
  char buf[70000];
  show("read", read(p[0], buf, sizeof buf));
  show("lseek pipe", lseek(p[0], 0, SEEK_SET));
  show("pread pipe", pread(p[0], buf, 1, 0));
  show("write to read end", write(p[0], "x", 1));

  // Capacity with a nonblocking writer.
  fcntl(p[1], F_SETFL, O_NONBLOCK);
  long total = 0, n;
  memset(buf, 'a', sizeof buf);
  while ((n = write(p[1], buf, 4096)) > 0) total += n;
  printf("filled: %ld then %s\n", total, strerror(errno));
  show("atomic write when 0 room", write(p[1], buf, 100));
  show("drain 1000", read(p[0], buf, 1000));
  show("atomic 4096 with 1000 room", write(p[1], buf, 4096));
  show("nonatomic 8192 with 1000 room", write(p[1], buf, 8192));
  while (read(p[0], buf, sizeof buf) == sizeof buf) {}
  fcntl(p[0], F_SETFL, O_NONBLOCK);
  show("empty nonblocking read", read(p[0], buf, 10));
  show("SETPIPE_SZ 100000", fcntl(p[1], F_SETPIPE_SZ, 100000));
  close(p[1]);
  show("read after writer closed", read(p[0], buf, 10));
  close(p[0]);

  // EPIPE with SIGPIPE ignored.
  signal(SIGPIPE, SIG_IGN);
  pipe(p);
  close(p[0]);
  show("write without reader", write(p[1], "x", 1));
  close(p[1]);
  signal(SIGPIPE, SIG_DFL);

  // Many writers: records of PIPE_BUF bytes never interleave.
  pipe(p);
  const int writers = 4, records = 50;
  for (int w = 0; w < writers; w++) {
    if (fork() == 0) {
      close(p[0]);
      char rec[PIPE_BUF];
      memset(rec, 'A' + w, sizeof rec);
      for (int i = 0; i < records; i++) write(p[1], rec, sizeof rec);
      _exit(0);
    }
  }
  close(p[1]);
  int counts[4] = {0}, bad = 0;
  char rec[PIPE_BUF];
  for (;;) {
    int got = 0;
    while (got < PIPE_BUF) {
      int m = read(p[0], rec + got, PIPE_BUF - got);
      if (m <= 0) break;
      got += m;
    }
    if (got == 0) break;
    if (got != PIPE_BUF) { bad++; break; }
    for (int i = 1; i < PIPE_BUF; i++) if (rec[i] != rec[0]) { bad++; break; }
    if (rec[0] >= 'A' && rec[0] < 'A' + writers) counts[rec[0] - 'A']++;
  }
  while (wait(NULL) > 0) {}
  printf("records per writer: %d %d %d %d, interleaved: %d\n", counts[0], counts[1], counts[2],
         counts[3], bad);
  close(p[0]);

  // poll and select.
  pipe(p);
  struct pollfd pf[3] = {{p[0], POLLIN, 0}, {p[1], POLLOUT, 0}, {99, POLLIN, 0}};
  show("poll", poll(pf, 3, 0));
  printf("revents: %x %x %x\n", pf[0].revents, pf[1].revents, pf[2].revents);
  write(p[1], "z", 1);
  show("poll readable", poll(pf, 1, 1000));
  printf("revents: %x\n", pf[0].revents);
  read(p[0], buf, 1);
  show("poll timeout", poll(pf, 1, 20));
  fd_set rs, ws;
  FD_ZERO(&rs); FD_ZERO(&ws);
  FD_SET(p[0], &rs); FD_SET(p[1], &ws);
  struct timeval tv = {0, 10000};
  show("select", select(p[1] + 1, &rs, &ws, NULL, &tv));
  printf("read set: %d write set: %d\n", FD_ISSET(p[0], &rs), FD_ISSET(p[1], &ws));
  // A closed descriptor inside the table: Linux ignores set bits past the fd table's current
  // size (64 slots until a process opens more), so a fixed high number would answer EBADF or 0
  // depending on how many descriptors the runner happened to pass down.
  int closed = dup(p[0]);
  close(closed);
  FD_ZERO(&rs);
  FD_SET(closed, &rs);
  show("select bad fd", select(closed + 1, &rs, NULL, NULL, &tv));
  if (fork() == 0) {
    usleep(50000);
    write(p[1], "late", 4);
    _exit(0);
  }
  pf[0].revents = 0;
  show("poll waits for a child's write", poll(pf, 1, 5000));
  wait(NULL);
  read(p[0], buf, sizeof buf);
  close(p[1]);
  show("poll after writer closed", poll(pf, 1, 0));
  printf("revents hup: %s\n", pf[0].revents & POLLHUP ? "yes" : "no");
  close(p[0]);

  // eventfd.
  int e = eventfd(3, EFD_NONBLOCK);
  uint64_t v = 0;
  show("eventfd read", read(e, &v, 8));
  printf("value: %lu\n", (unsigned long)v);
  show("eventfd empty read", read(e, &v, 8));
  v = 5;
  write(e, &v, 8);
  write(e, &v, 8);
  read(e, &v, 8);
  printf("sum: %lu\n", (unsigned long)v);
  show("eventfd short read", read(e, &v, 4));
  int sem = eventfd(2, EFD_SEMAPHORE);
  read(sem, &v, 8);
  printf("semaphore read: %lu\n", (unsigned long)v);

  // epoll.
  int ep = epoll_create1(EPOLL_CLOEXEC);
  pipe(p);
  struct epoll_event ev = {.events = EPOLLIN, .data.u64 = 42};
  show("epoll_ctl add", epoll_ctl(ep, EPOLL_CTL_ADD, p[0], &ev));
  show("epoll_ctl add again", epoll_ctl(ep, EPOLL_CTL_ADD, p[0], &ev));
  struct epoll_event out[4];
  show("epoll_wait empty", epoll_wait(ep, out, 4, 10));
  write(p[1], "ab", 2);
  show("epoll_wait LT", epoll_wait(ep, out, 4, 1000));
  printf("data: %lu events: %x\n", (unsigned long)out[0].data.u64, out[0].events);
  show("epoll_wait LT again", epoll_wait(ep, out, 4, 0));
  ev.events = EPOLLIN | EPOLLET;
  show("epoll_ctl mod ET", epoll_ctl(ep, EPOLL_CTL_MOD, p[0], &ev));
  show("epoll_wait ET first", epoll_wait(ep, out, 4, 0));
  show("epoll_wait ET no new data", epoll_wait(ep, out, 4, 0));
  write(p[1], "c", 1);
  show("epoll_wait ET new data", epoll_wait(ep, out, 4, 0));
  ev.events = EPOLLIN | EPOLLONESHOT;
  epoll_ctl(ep, EPOLL_CTL_MOD, p[0], &ev);
  show("epoll_wait oneshot", epoll_wait(ep, out, 4, 0));
  show("epoll_wait oneshot disabled", epoll_wait(ep, out, 4, 0));
  show("epoll_ctl del", epoll_ctl(ep, EPOLL_CTL_DEL, p[0], NULL));
  show("epoll_ctl del again", epoll_ctl(ep, EPOLL_CTL_DEL, p[0], NULL));
  ev.events = EPOLLIN;
  show("epoll_ctl regular file", epoll_ctl(ep, EPOLL_CTL_ADD, open("/fs_pipe_poll", O_RDONLY), &ev));
  show("epoll_ctl on itself", epoll_ctl(ep, EPOLL_CTL_ADD, ep, &ev));
  ev.events = EPOLLOUT;
  epoll_ctl(ep, EPOLL_CTL_ADD, e, &ev);
  show("epoll_wait eventfd writable", epoll_wait(ep, out, 4, 0));
  printf("events: %x\n", out[0].events);
  return 0;
}

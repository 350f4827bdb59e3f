// Waiting for TCP sockets in poll, select and epoll (for --network=host, where they are host
// sockets): a process sleeping in each of them with no timeout is woken by a byte from another
// process; an edge-triggered epoll reports a byte left unread once, not again and again while
// nothing new comes (at most one late report is let through: a sandbox hears of a socket's
// change a moment after the change), and again when a new byte comes; a socket closed while
// another thread waits in epoll leaves that wait to the socket accepted next; a signal ends a
// recv waiting under SO_RCVTIMEO with EINTR, SA_RESTART or not, and one without a timeout is
// restarted.
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include "probe.h"

#define ROUNDS 30

static int listener;
static struct sockaddr_in bound;

/** A new connection to the listener: *client and *server. */
static int connection(int *client, int *server) {
  *client = socket(AF_INET, SOCK_STREAM, 0);
  if (*client < 0 || connect(*client, (struct sockaddr *)&bound, sizeof bound) < 0) return -1;
  *server = accept(listener, NULL, NULL);
  return *server < 0 ? -1 : 0;
}

/** Waits for s to be readable in poll (0), select (1) or epoll_wait (2), with no timeout. */
static int wait_readable(int s, int how, int ep) {
  if (how == 0) {
    struct pollfd p = {.fd = s, .events = POLLIN};
    return poll(&p, 1, -1) == 1 && (p.revents & POLLIN) ? 0 : -1;
  }
  if (how == 1) {
    fd_set r;
    FD_ZERO(&r);
    FD_SET(s, &r);
    return select(s + 1, &r, NULL, NULL, NULL) == 1 && FD_ISSET(s, &r) ? 0 : -1;
  }
  struct epoll_event e;
  return epoll_wait(ep, &e, 1, -1) == 1 && (e.events & EPOLLIN) ? 0 : -1;
}

/** The child: answers each byte on s, having waited for it in each way in turn. */
static void echo(int s) {
  int ep = epoll_create1(0);
  struct epoll_event e = {.events = EPOLLIN};
  if (ep < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, s, &e) < 0) _exit(2);
  for (int i = 0; i < 3 * ROUNDS; i++) {
    char b;
    if (wait_readable(s, i / ROUNDS, ep) < 0) _exit(3);
    if (recv(s, &b, 1, MSG_DONTWAIT) != 1 || send(s, &b, 1, 0) != 1) _exit(4);
  }
  _exit(0);
}

static void round_trips(void) {
  int c, s;
  if (connection(&c, &s) < 0) {
    show("connection", -1);
    return;
  }
  fflush(stdout);
  pid_t pid = fork();
  if (pid == 0) echo(s);
  close(s);
  int done = 0;
  for (int i = 0; i < 3 * ROUNDS; i++) {
    char b = 'a' + i % 26, back = 0;
    if (write(c, &b, 1) != 1 || read(c, &back, 1) != 1 || back != b) break;
    done++;
  }
  int st = 0;
  waitpid(pid, &st, 0);
  printf("round trips through poll, select and epoll: %d, child exit %d\n", done,
         WIFEXITED(st) ? WEXITSTATUS(st) : -1);
  close(c);
}

static int wait_events(int ep, int timeout_ms, unsigned *events) {
  struct epoll_event e[4];
  int n = epoll_wait(ep, e, 4, timeout_ms);
  if (events) *events = n > 0 ? e[0].events : 0;
  return n;
}

static void edge_triggered(void) {
  int c, s;
  if (connection(&c, &s) < 0) {
    show("connection", -1);
    return;
  }
  int ep = epoll_create1(0);
  struct epoll_event e = {.events = EPOLLIN | EPOLLET};
  show("epoll_ctl EPOLLIN|EPOLLET", epoll_ctl(ep, EPOLL_CTL_ADD, s, &e));
  show("epoll_wait, nothing sent", wait_events(ep, 0, NULL));
  unsigned ev;
  show("write", write(c, "a", 1));
  int n = wait_events(ep, 20000, &ev);
  printf("epoll_wait, a byte sent: %d, events %#x\n", n, ev);
  int again = 0;
  for (int i = 0; i < 6; i++) {
    n = wait_events(ep, 50, NULL);
    if (n < 0) show("epoll_wait", n);
    else again += n;
  }
  printf("reports of the unread byte since: %s\n", again <= 1 ? "at most one" : "more");
  if (again > 1) printf("  (%d)\n", again);
  show("write", write(c, "b", 1));
  n = wait_events(ep, 20000, &ev);
  printf("epoll_wait, a new byte sent: %d, events %#x\n", n, ev);
  char buf[8];
  show("read", read(s, buf, sizeof buf));
  struct pollfd p = {.fd = s, .events = POLLIN};
  show("poll, all read", poll(&p, 1, 0));
  close(ep);
  close(c);
  close(s);
}

struct waiter {
  int ep;
  int n;
  unsigned long long data;
};

static void *wait_thread(void *arg) {
  struct waiter *w = arg;
  struct epoll_event e;
  w->n = epoll_wait(w->ep, &e, 1, -1);
  w->data = e.data.u64;
  return NULL;
}

static void closed_while_waited(void) {
  int c, s;
  if (connection(&c, &s) < 0) {
    show("connection", -1);
    return;
  }
  struct waiter w = {.ep = epoll_create1(0)};
  struct epoll_event e = {.events = EPOLLIN, .data.u64 = 1};
  show("epoll_ctl first", epoll_ctl(w.ep, EPOLL_CTL_ADD, s, &e));
  pthread_t th;
  pthread_create(&th, NULL, wait_thread, &w);
  // Closed whether or not the thread waits yet: either way its wait is left to what follows.
  close(s);
  close(c);
  int c2, s2;
  if (connection(&c2, &s2) < 0) {
    show("connection", -1);
    return;
  }
  e.data.u64 = 2;
  show("epoll_ctl second", epoll_ctl(w.ep, EPOLL_CTL_ADD, s2, &e));
  show("write", write(c2, "z", 1));
  pthread_join(th, NULL);
  printf("the waiting thread: %d, data %llu\n", w.n, w.data);
  close(w.ep);
  close(c2);
  close(s2);
}

static int alarm_peer = -1;
static int alarm_writes_after;
static volatile sig_atomic_t alarms;

/** Counts the timer's signals; the n-th writes a byte to alarm_peer. */
static void on_alarm(int sig) {
  (void)sig;
  if (++alarms == alarm_writes_after && write(alarm_peer, "x", 1) < 0) {
  }
}

static void timer(int on) {
  // Every 20 ms, so that one comes while the recv waits, however late it starts to.
  struct itimerval it = {{0, on ? 20000 : 0}, {0, on ? 20000 : 0}};
  setitimer(ITIMER_REAL, &it, NULL);
}

static void interrupted(void) {
  int c, s;
  if (connection(&c, &s) < 0) {
    show("connection", -1);
    return;
  }
  struct sigaction sa = {.sa_handler = on_alarm, .sa_flags = SA_RESTART};
  sigaction(SIGALRM, &sa, NULL);
  struct timeval tv = {60, 0};
  show("SO_RCVTIMEO 60 s", setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv));
  // A recv restarted in spite of its timeout gets a byte after 100 signals (2 s) instead of
  // failing.
  alarm_peer = c;
  alarm_writes_after = 100;
  alarms = 0;
  char b[4];
  timer(1);
  show("recv under SO_RCVTIMEO, signals coming", recv(s, b, sizeof b, 0));
  timer(0);
  struct timeval none = {0, 0};
  show("SO_RCVTIMEO none", setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &none, sizeof none));
  alarm_writes_after = 1;
  alarms = 0;
  timer(1);
  show("recv, restarted after the first signal", recv(s, b, sizeof b, 0));
  timer(0);
  signal(SIGALRM, SIG_IGN);
  close(c);
  close(s);
}

int main(void) {
  listener = socket(AF_INET, SOCK_STREAM, 0);
  bound.sin_family = AF_INET;
  bound.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t l = sizeof bound;
  if (bind(listener, (struct sockaddr *)&bound, sizeof bound) < 0 || listen(listener, 8) < 0 ||
      getsockname(listener, (struct sockaddr *)&bound, &l) < 0) {
    show("listen", -1);
    return 1;
  }
  round_trips();
  edge_triggered();
  closed_while_waited();
  interrupted();
  return 0;
}

// EPOLLEXCLUSIVE: two threads wait on two epoll instances that both watch one eventfd with
// EPOLLEXCLUSIVE; one event wakes one of them, not both. Without the flag, both wake.
//
// Waiters wait without a timeout and are released by a second eventfd ("stop") once the count is
// taken; with the flag, the woken waiter consumes the event, and a count of two (a waiter that
// came late) is taken again after a longer pause.
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

enum { EVENT = 1, STOP = 2 };

static int efd, stop;
static unsigned exclusive;
static _Atomic int ready, woken;

static void *waiter(void *arg) {
  int ep = (int)(intptr_t)arg;
  struct epoll_event ev;
  atomic_fetch_add(&ready, 1);
  for (;;) {
    if (epoll_wait(ep, &ev, 1, -1) != 1) continue;
    if (ev.data.u32 == STOP) return NULL;
    atomic_fetch_add(&woken, 1);
    if (exclusive) {
      uint64_t v;
      read(efd, &v, sizeof v);
    }
    return NULL;
  }
}

/** Sleeps until `n` waiters woke or 10 s passed. */
static void wait_woken(int n) {
  for (int i = 0; i < 10000 && atomic_load(&woken) < n; i++) usleep(1000);
}

static int run(unsigned flags, int settle_ms) {
  exclusive = flags;
  efd = eventfd(0, EFD_NONBLOCK);
  stop = eventfd(0, EFD_NONBLOCK);
  int ep[2];
  for (int i = 0; i < 2; i++) {
    ep[i] = epoll_create1(0);
    struct epoll_event ev = {.events = EPOLLIN | flags, .data.u32 = EVENT};
    epoll_ctl(ep[i], EPOLL_CTL_ADD, efd, &ev);
    struct epoll_event sev = {.events = EPOLLIN, .data.u32 = STOP};
    epoll_ctl(ep[i], EPOLL_CTL_ADD, stop, &sev);
  }
  ready = woken = 0;
  pthread_t t[2];
  for (int i = 0; i < 2; i++) pthread_create(&t[i], NULL, waiter, (void *)(intptr_t)ep[i]);
  while (atomic_load(&ready) < 2) usleep(1000);
  usleep(settle_ms * 1000);  // both are in epoll_wait by now, on a host not starved that long
  uint64_t one = 1;
  write(efd, &one, sizeof one);
  // With the flag one wake is the answer, and a wrong second one comes soon after the first;
  // without it, wait for both.
  wait_woken(flags ? 1 : 2);
  if (flags) usleep(200000);
  int n = atomic_load(&woken);
  write(stop, &one, sizeof one);
  for (int i = 0; i < 2; i++) pthread_join(t[i], NULL);
  close(ep[0]);
  close(ep[1]);
  close(efd);
  close(stop);
  return n;
}

int main(void) {
  // A waiter that reached epoll_wait only after the event (a loaded host) finds it still
  // pending and wakes too: tried again, waiting longer, so that load does not change the
  // answer (a second wake every time is the answer).
  int n = 0;
  for (int attempt = 0; attempt < 4 && n != 1; attempt++) n = run(EPOLLEXCLUSIVE, 100 << attempt);
  printf("with EPOLLEXCLUSIVE, woken: %d\n", n);
  printf("without, woken: %d\n", run(0, 100));
  return 0;
}

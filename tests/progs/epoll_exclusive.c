// EPOLLEXCLUSIVE: two threads wait on two epoll instances that both watch one eventfd with
// EPOLLEXCLUSIVE; one event wakes one of them, not both. Without the flag, both wake.
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

static int efd;
static _Atomic int ready, woken;

static void *waiter(void *arg) {
  int ep = (int)(intptr_t)arg;
  struct epoll_event ev;
  atomic_fetch_add(&ready, 1);
  if (epoll_wait(ep, &ev, 1, 400) == 1) atomic_fetch_add(&woken, 1);
  return NULL;
}

static int run(unsigned flags) {
  efd = eventfd(0, EFD_NONBLOCK);
  int ep[2];
  for (int i = 0; i < 2; i++) {
    ep[i] = epoll_create1(0);
    struct epoll_event ev = {.events = EPOLLIN | flags, .data.u32 = i};
    epoll_ctl(ep[i], EPOLL_CTL_ADD, efd, &ev);
  }
  ready = woken = 0;
  pthread_t t[2];
  for (int i = 0; i < 2; i++) pthread_create(&t[i], NULL, waiter, (void *)(intptr_t)ep[i]);
  while (atomic_load(&ready) < 2) usleep(1000);
  usleep(100000);  // both are in epoll_wait by now
  uint64_t one = 1;
  write(efd, &one, sizeof one);
  for (int i = 0; i < 2; i++) pthread_join(t[i], NULL);
  close(ep[0]);
  close(ep[1]);
  close(efd);
  return woken;
}

int main(void) {
  printf("with EPOLLEXCLUSIVE, woken: %d\n", run(EPOLLEXCLUSIVE));
  printf("without, woken: %d\n", run(0));
  return 0;
}

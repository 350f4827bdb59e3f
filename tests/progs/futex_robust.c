// Futexes: wait with a mismatched value (EAGAIN), a timeout (ETIMEDOUT), wake counts, FIFO
// waking of waiters queued in order, and a robust mutex whose owner dies (EOWNERDEAD).
#define _GNU_SOURCE
#include <errno.h>
#include <linux/futex.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static int word;
static _Atomic int queued;
static int order[3], next_slot;
static pthread_mutex_t order_mu = PTHREAD_MUTEX_INITIALIZER;

static long futex(int *uaddr, int op, int val, const struct timespec *ts) {
  return syscall(SYS_futex, uaddr, op, val, ts, NULL, 0);
}

static void *waiter(void *arg) {
  long id = (long)arg;
  atomic_fetch_add(&queued, 1);
  while (futex(&word, FUTEX_WAIT_PRIVATE, 0, NULL) != 0 && errno == EINTR) {}
  pthread_mutex_lock(&order_mu);
  order[next_slot++] = (int)id;
  pthread_mutex_unlock(&order_mu);
  return NULL;
}

static pthread_mutex_t robust;
static void *die_holding(void *arg) {
  (void)arg;
  pthread_mutex_lock(&robust);
  return NULL;  // exits while holding the lock
}

int main(void) {
  setvbuf(stdout, NULL, _IONBF, 0);
  word = 1;
  printf("wait on a changed value: %s\n", futex(&word, FUTEX_WAIT_PRIVATE, 0, NULL) ? strerror(errno) : "woke");
  struct timespec ts = {0, 20 * 1000 * 1000};
  printf("wait with timeout: %s\n", futex(&word, FUTEX_WAIT_PRIVATE, 1, &ts) ? strerror(errno) : "woke");
  printf("wake with nobody waiting: %ld\n", futex(&word, FUTEX_WAKE_PRIVATE, 1, NULL));

  // Three waiters queued one after another; single wakes release them in that order.
  word = 0;
  pthread_t th[3];
  for (long i = 0; i < 3; i++) {
    pthread_create(&th[i], NULL, waiter, (void *)i);
    while (atomic_load(&queued) <= i) usleep(1000);
    usleep(20000);  // let it reach FUTEX_WAIT
  }
  long woken = 0;
  for (int i = 0; i < 3; i++) {
    long n;
    while ((n = futex(&word, FUTEX_WAKE_PRIVATE, 1, NULL)) == 0) usleep(1000);
    woken += n;
    usleep(20000);
  }
  for (int i = 0; i < 3; i++) pthread_join(th[i], NULL);
  printf("woken=%ld order=%d %d %d\n", woken, order[0], order[1], order[2]);

  pthread_mutexattr_t a;
  pthread_mutexattr_init(&a);
  pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST);
  pthread_mutex_init(&robust, &a);
  pthread_t t;
  pthread_create(&t, NULL, die_holding, NULL);
  pthread_join(t, NULL);
  int rc = pthread_mutex_lock(&robust);
  printf("lock after the owner died: %s\n", rc == EOWNERDEAD ? "EOWNERDEAD" : strerror(rc));
  pthread_mutex_consistent(&robust);
  pthread_mutex_unlock(&robust);
  printf("relock: %d\n", pthread_mutex_lock(&robust));
  return 0;
}

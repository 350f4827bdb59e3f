// Futexes: wait with a mismatched value (EAGAIN), a timeout (ETIMEDOUT), wake counts (each
// single wake releases exactly one waiter), and a robust mutex whose owner dies (EOWNERDEAD).
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
static _Atomic int queued, done;

static long futex(int *uaddr, int op, int val, const struct timespec *ts) {
  return syscall(SYS_futex, uaddr, op, val, ts, NULL, 0);
}

static void *waiter(void *arg) {
  long id = (long)arg;
  atomic_fetch_add(&queued, 1);
  (void)id;
  while (futex(&word, FUTEX_WAIT_PRIVATE, 0, NULL) != 0 && errno == EINTR) {}
  atomic_fetch_add(&done, 1);
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

  // Three waiters; each successful single wake releases exactly one of them. A wake that
  // finds nobody waiting yet (a waiter still on its way) reports 0 and is simply retried.
  word = 0;
  pthread_t th[3];
  for (long i = 0; i < 3; i++) pthread_create(&th[i], NULL, waiter, (void *)i);
  while (atomic_load(&queued) < 3) usleep(1000);
  long woken = 0;
  int exact = 1;
  for (int i = 0; i < 3; i++) {
    long n;
    while ((n = futex(&word, FUTEX_WAKE_PRIVATE, 1, NULL)) == 0) usleep(1000);
    woken += n;
    while (atomic_load(&done) < woken) usleep(1000);
    usleep(5000);
    if (atomic_load(&done) != woken) exact = 0;
  }
  for (int i = 0; i < 3; i++) pthread_join(th[i], NULL);
  printf("woken=%ld one wake releases one: %d\n", woken, exact);

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

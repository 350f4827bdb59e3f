// Futex operations beyond plain wait and wake: a signal interrupting a wait (EINTR without
// SA_RESTART; with it the wait goes on and a later wake ends it), bitsets (a wake whose bitset
// misses the waiter's leaves it waiting), CMP_REQUEUE (value check, one woken, the rest moved
// and woken from the second word), WAKE_OP (the operation on the second word and its
// comparison), an absolute FUTEX_WAIT_BITSET deadline, and thread exits waking their joiners.
// Each step waits until the waiters are in their wait, counted with a requeue of the word onto
// itself (which wakes nobody), so that no answer depends on how fast the host runs them.
#define _GNU_SOURCE
#include <errno.h>
#include <linux/futex.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static long futex(void *uaddr, int op, int val, const void *ts, void *uaddr2, int val3) {
  return syscall(SYS_futex, uaddr, op, val, ts, uaddr2, val3);
}

static int word, word2;
static _Atomic int started, finished, handled;
static _Atomic long results[8];

static void on_signal(int sig) {
  (void)sig;
  atomic_fetch_add(&handled, 1);
}

static void set_handler(int restart) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_signal;
  sa.sa_flags = restart ? SA_RESTART : 0;
  sigaction(SIGUSR1, &sa, NULL);
}

// Waits once on word (expected 0) and records the result: 0, or the errno.
static void *wait_once(void *arg) {
  long i = (long)arg;
  atomic_fetch_add(&started, 1);
  long r = futex(&word, FUTEX_WAIT_PRIVATE, 0, NULL, NULL, 0);
  results[i] = r == 0 ? 0 : errno;
  atomic_fetch_add(&finished, 1);
  return NULL;
}

// Waits with a bitset on word (expected 0).
static void *wait_bitset(void *arg) {
  long i = (long)arg;
  atomic_fetch_add(&started, 1);
  long r = futex(&word, FUTEX_WAIT_BITSET_PRIVATE, 0, NULL, NULL, i == 0 ? 0x1 : 0x2);
  results[i] = r == 0 ? 0 : errno;
  atomic_fetch_add(&finished, 1);
  return NULL;
}

static void reset(void) {
  word = 0;
  word2 = 0;
  atomic_store(&started, 0);
  atomic_store(&finished, 0);
  atomic_store(&handled, 0);
  for (int i = 0; i < 8; i++) results[i] = -1;
}

// How many threads wait on addr: a requeue onto the same word moves them all and wakes none.
static long waiters(int *addr) {
  return futex(addr, FUTEX_CMP_REQUEUE_PRIVATE, 0, (void *)(long)__INT_MAX__, addr, *addr);
}

// Waits until n threads wait on word.
static void settle(int n) {
  while (waiters(&word) < n) usleep(1000);
}

// Wakes word until n waiters in all have been woken (a wake may come before a wait).
static long wake_all(int *addr, int n) {
  long woken = 0;
  while (woken < n) {
    long r = futex(addr, FUTEX_WAKE_PRIVATE, n - woken, NULL, NULL, 0);
    if (r > 0) woken += r;
    else usleep(1000);
  }
  return woken;
}

static void interrupted(int restart) {
  reset();
  set_handler(restart);
  pthread_t t;
  pthread_create(&t, NULL, wait_once, (void *)0);
  settle(1);
  pthread_kill(t, SIGUSR1);
  while (atomic_load(&handled) == 0) usleep(1000);
  // After its handler the waiter either returns or waits again: whichever shows first.
  int still;
  for (;;) {
    if (atomic_load(&finished)) {
      still = 0;
      break;
    }
    if (waiters(&word) == 1) {
      still = 1;
      break;
    }
    usleep(1000);
  }
  if (still) wake_all(&word, 1);
  pthread_join(t, NULL);
  printf("signal during wait, SA_RESTART=%d: handled, still waiting after it: %d, result: %s\n",
         restart, still, results[0] ? strerror(results[0]) : "woken");
}

static void bitsets(void) {
  reset();
  pthread_t t[2];
  for (long i = 0; i < 2; i++) pthread_create(&t[i], NULL, wait_bitset, (void *)i);
  settle(2);
  long n = futex(&word, FUTEX_WAKE_BITSET_PRIVATE, 2, NULL, NULL, 0x2);
  usleep(50 * 1000);
  printf("wake bitset 0x2: woke %ld, waiter with 0x1 still waiting: %d\n", n,
         results[0] == -1);
  n = futex(&word, FUTEX_WAKE_BITSET_PRIVATE, 2, NULL, NULL, 0x1);
  for (int i = 0; i < 2; i++) pthread_join(t[i], NULL);
  printf("wake bitset 0x1: woke %ld, results %ld %ld\n", n, results[0], results[1]);
  printf("wake bitset 0: %s\n",
         futex(&word, FUTEX_WAKE_BITSET_PRIVATE, 1, NULL, NULL, 0) ? strerror(errno) : "ok");
}

static void requeue(void) {
  reset();
  pthread_t t[3];
  for (long i = 0; i < 3; i++) pthread_create(&t[i], NULL, wait_once, (void *)i);
  settle(3);
  long bad = futex(&word, FUTEX_CMP_REQUEUE_PRIVATE, 1, (void *)2L, &word2, 7);
  printf("cmp_requeue with a wrong value: %s\n", bad ? strerror(errno) : "ok");
  long n = futex(&word, FUTEX_CMP_REQUEUE_PRIVATE, 1, (void *)2L, &word2, 0);
  while (atomic_load(&finished) < 1) usleep(1000);
  usleep(50 * 1000);
  int one = atomic_load(&finished) == 1;
  long none = futex(&word, FUTEX_WAKE_PRIVATE, 10, NULL, NULL, 0);
  long moved = wake_all(&word2, 2);
  for (int i = 0; i < 3; i++) pthread_join(t[i], NULL);
  printf("cmp_requeue: %ld (one woken: %d), left on the first word: %ld, woken from the "
         "second: %ld\n", n, one, none, moved);
}

static void wake_op(void) {
  reset();
  pthread_t t[2];
  for (long i = 0; i < 2; i++) pthread_create(&t[i], NULL, wait_once, (void *)i);
  settle(2);
  word2 = 5;
  // word2 += 3; wake one on word2's waiters if its old value was > 4 (nobody waits there),
  // and one on word.
  int op = FUTEX_OP(FUTEX_OP_ADD, 3, FUTEX_OP_CMP_GT, 4);
  long n = futex(&word, FUTEX_WAKE_OP_PRIVATE, 1, (void *)1L, &word2, op);
  while (atomic_load(&finished) < 1) usleep(1000);
  printf("wake_op: %ld, second word now %d\n", n, word2);
  wake_all(&word, 1);
  for (int i = 0; i < 2; i++) pthread_join(t[i], NULL);
}

static void absolute_deadline(void) {
  word = 0;
  struct timespec now, t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &now);
  now.tv_nsec += 30 * 1000 * 1000;
  if (now.tv_nsec >= 1000000000) {
    now.tv_sec++;
    now.tv_nsec -= 1000000000;
  }
  clock_gettime(CLOCK_MONOTONIC, &t0);
  long r = futex(&word, FUTEX_WAIT_BITSET_PRIVATE, 0, &now, NULL, FUTEX_BITSET_MATCH_ANY);
  int e = errno;
  clock_gettime(CLOCK_MONOTONIC, &t1);
  long ms = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
  printf("absolute deadline: %s, waited >= 25 ms: %d\n", r ? strerror(e) : "woken", ms >= 25);
}

static void *nothing(void *arg) { return arg; }

// pthread_join waits on the thread's CLONE_CHILD_CLEARTID word: each join that returns
// proves the exit cleared the word and woke the joiner.
static void clear_tid(void) {
  for (int i = 0; i < 20; i++) {
    pthread_t t;
    pthread_create(&t, NULL, nothing, NULL);
    pthread_join(t, NULL);
  }
  printf("20 threads created and joined\n");
}

int main(void) {
  setvbuf(stdout, NULL, _IONBF, 0);
  interrupted(0);
  interrupted(1);
  bitsets();
  requeue();
  wake_op();
  absolute_deadline();
  clear_tid();
  return 0;
}

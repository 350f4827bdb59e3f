// fork while other threads write memory: the child must see one instant of the parent's memory
// and the writers must never lose a write (Python crashed at random after fork in a threaded
// process). Writers store a counter into slot A and then slot B on another page, so any instant
// has A == B or A == B + 1; a child that sees anything else got pages copied at different
// times. Two threads fork at once, as test_threading's reinit-TLS-after-fork test does.
#define _GNU_SOURCE
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>
#include "probe.h"

#define WRITERS 3
#define PAIRS 8
#define FORKS_PER_THREAD 20

static long page;
static char *mem;
static atomic_int stop;
static atomic_long lost;

static volatile long *slot(int w, int pair, int which) {
  // A and B of one pair live on different pages; every pair on pages of its own.
  return (volatile long *)(mem + ((w * PAIRS + pair) * 2 + which) * page);
}

static void *writer(void *arg) {
  int w = (int)(long)arg;
  for (long i = 1; !atomic_load(&stop); i++) {
    for (int p = 0; p < PAIRS; p++) {
      volatile long *a = slot(w, p, 0), *b = slot(w, p, 1);
      if (*a != i - 1 || *b != i - 1) atomic_fetch_add(&lost, 1);
      *a = i;
      *b = i;
    }
  }
  return NULL;
}

static atomic_int torn_children, failed_children;

static void *forker(void *arg) {
  (void)arg;
  for (int n = 0; n < FORKS_PER_THREAD; n++) {
    pid_t c = fork();
    if (c == 0) {
      int bad = 0;
      for (int w = 0; w < WRITERS; w++) {
        for (int p = 0; p < PAIRS; p++) {
          long a = *slot(w, p, 0), b = *slot(w, p, 1);
          if (a != b && a != b + 1) bad = 1;
        }
      }
      _exit(bad ? 3 : 0);
    }
    if (c < 0) {
      atomic_fetch_add(&failed_children, 1);
      continue;
    }
    int st;
    waitpid(c, &st, 0);
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
      if (WIFEXITED(st) && WEXITSTATUS(st) == 3) atomic_fetch_add(&torn_children, 1);
      else atomic_fetch_add(&failed_children, 1);
    }
  }
  return NULL;
}

int main(void) {
  setvbuf(stdout, NULL, _IONBF, 0);
  page = sysconf(_SC_PAGESIZE);
  mem = mmap(NULL, WRITERS * PAIRS * 2 * page, PROT_READ | PROT_WRITE,
             MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  pthread_t w[WRITERS], f[2];
  for (long i = 0; i < WRITERS; i++) pthread_create(&w[i], NULL, writer, (void *)i);
  for (int i = 0; i < 2; i++) pthread_create(&f[i], NULL, forker, NULL);
  for (int i = 0; i < 2; i++) pthread_join(f[i], NULL);
  atomic_store(&stop, 1);
  for (int i = 0; i < WRITERS; i++) pthread_join(w[i], NULL);
  printf("children that saw torn memory: %d\n", atomic_load(&torn_children));
  printf("children that died or failed: %d\n", atomic_load(&failed_children));
  printf("writes the parent lost: %ld\n", atomic_load(&lost));
  return 0;
}

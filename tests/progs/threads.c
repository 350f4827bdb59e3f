// Threads: create and join, thread-local storage, a mutex-protected counter (futexes), a
// condition variable, and distinct thread ids in one process.
#include <pthread.h>
#include <stdio.h>
#include <sys/syscall.h>
#include <unistd.h>

static __thread int tls = 100;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static long counter;
static int ready;
static pid_t tids[4];

static void *worker(void *arg) {
  long id = (long)arg;
  tls += (int)id;
  tids[id] = (pid_t)syscall(SYS_gettid);
  for (int i = 0; i < 10000; i++) {
    pthread_mutex_lock(&mu);
    counter++;
    pthread_mutex_unlock(&mu);
  }
  pthread_mutex_lock(&mu);
  while (!ready) pthread_cond_wait(&cv, &mu);
  pthread_mutex_unlock(&mu);
  return (void *)(long)(tls * 2);
}

int main(void) {
  pthread_t th[4];
  for (long i = 0; i < 4; i++) pthread_create(&th[i], NULL, worker, (void *)i);
  pthread_mutex_lock(&mu);
  ready = 1;
  pthread_cond_broadcast(&cv);
  pthread_mutex_unlock(&mu);
  long sum = 0;
  for (int i = 0; i < 4; i++) {
    void *r;
    pthread_join(th[i], &r);
    sum += (long)r;
  }
  int distinct = 1;
  for (int i = 0; i < 4; i++)
    for (int j = i + 1; j < 4; j++)
      if (tids[i] == tids[j] || tids[i] == getpid()) distinct = 0;
  printf("counter=%ld sum of returns=%ld main tls=%d distinct tids=%d\n", counter, sum, tls, distinct);
  return 0;
}

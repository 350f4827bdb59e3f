/*
 * A fork or thread bomb that stops at the first failure: prints how many tasks it made and
 * the errno that stopped it, then ends them all. argv: fork|thread MAX [hold]
 * With "hold" it prints "holding" and sleeps with every task alive (for the host to look).
 * argv: storm — the classic bomb: prints "holding", then every process forks for ever and
 * each child does the same, all of them busy.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static void *idle(void *arg) {
  (void)arg;
  for (;;) pause();
  return NULL;
}

int main(int argc, char **argv) {
  if (argc == 2 && strcmp(argv[1], "storm") == 0) {
    printf("holding\n");
    fflush(stdout);
    for (;;) fork();
  }
  if (argc < 3) return 2;
  int threads = strcmp(argv[1], "thread") == 0;
  int max = atoi(argv[2]);
  int hold = argc > 3;
  pid_t *pids = calloc(max, sizeof(pid_t));
  int made = 0, err = 0;
  for (; made < max; made++) {
    if (threads) {
      pthread_attr_t a;
      pthread_attr_init(&a);
      pthread_attr_setstacksize(&a, 64 * 1024);
      pthread_t t;
      int r = pthread_create(&t, &a, idle, NULL);
      if (r != 0) { err = r; break; }
    } else {
      pid_t p = fork();
      if (p < 0) { err = errno; break; }
      if (p == 0) { for (;;) pause(); }
      pids[made] = p;
    }
  }
  printf("%s: made=%d errno=%s\n", argv[1], made, err ? strerror(err) : "none");
  fflush(stdout);
  if (hold) {
    printf("holding\n");
    fflush(stdout);
    for (;;) pause();
  }
  if (!threads) {
    for (int i = 0; i < made; i++) kill(pids[i], SIGKILL);
    int reaped = 0;
    while (wait(NULL) > 0) reaped++;
    printf("reaped=%d\n", reaped);
  }
  return 0;
}

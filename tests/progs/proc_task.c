// /proc/[pid]/task/[tid]: each thread's own stat, status and comm (its id, its name from
// PR_SET_NAME, its state), and no task/ below a thread. The waiting thread is polled until it
// shows S, so the output does not depend on timing.
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static int pipefd[2];
static volatile pid_t worker_tid;

static void *worker(void *arg) {
  (void)arg;
  prctl(PR_SET_NAME, "worker");
  worker_tid = (pid_t)syscall(SYS_gettid);
  char c;
  read(pipefd[0], &c, 1);
  return NULL;
}

static int slurp(const char *path, char *buf, size_t len) {
  FILE *f = fopen(path, "r");
  if (!f) return -1;
  size_t n = fread(buf, 1, len - 1, f);
  fclose(f);
  buf[n] = 0;
  return (int)n;
}

// The stat line's pid, comm and state.
static void stat_of(pid_t tid, long *pid, char *comm, size_t clen, char *state) {
  char path[96], buf[1024];
  snprintf(path, sizeof path, "/proc/self/task/%d/stat", tid);
  *pid = -1, comm[0] = 0, *state = '?';
  if (slurp(path, buf, sizeof buf) < 0) return;
  *pid = strtol(buf, NULL, 10);
  char *l = strchr(buf, '('), *r = strrchr(buf, ')');
  if (!l || !r) return;
  snprintf(comm, clen, "%.*s", (int)(r - l - 1), l + 1);
  *state = r[2];
}

static void status_field(pid_t tid, const char *name, char *out, size_t len) {
  char path[96], buf[4096];
  snprintf(path, sizeof path, "/proc/self/task/%d/status", tid);
  snprintf(out, len, "none");
  if (slurp(path, buf, sizeof buf) < 0) return;
  for (char *line = strtok(buf, "\n"); line; line = strtok(NULL, "\n")) {
    size_t n = strlen(name);
    if (!strncmp(line, name, n) && line[n] == ':') {
      snprintf(out, len, "%s", line + n + 2);
      return;
    }
  }
}

static void show(const char *who, pid_t tid, char want) {
  long pid;
  char comm[64], state = '?', buf[96], name[64], spid[32], tgid[32], st[64];
  for (int i = 0; i < 2000; i++) {
    stat_of(tid, &pid, comm, sizeof comm, &state);
    if (state == want) break;
    struct timespec ts = {0, 10 * 1000 * 1000};
    nanosleep(&ts, NULL);
  }
  snprintf(buf, sizeof buf, "/proc/self/task/%d/comm", tid);
  char c[64] = "";
  slurp(buf, c, sizeof c);
  c[strcspn(c, "\n")] = 0;
  status_field(tid, "Name", name, sizeof name);
  status_field(tid, "Pid", spid, sizeof spid);
  status_field(tid, "Tgid", tgid, sizeof tgid);
  status_field(tid, "State", st, sizeof st);
  printf("%s: stat pid is tid %d, comm %s, state %c; comm file %s; status Name %s, Pid is tid %d, "
         "Tgid is pid %d, State %s\n",
         who, pid == tid, comm, state, c, name, atoi(spid) == tid, atoi(tgid) == getpid(), st);
  snprintf(buf, sizeof buf, "/proc/self/task/%d/task", tid);
  DIR *d = opendir(buf);
  printf("%s: task/ below it: %s\n", who, d ? "yes" : strerror(errno));
  if (d) closedir(d);
}

int main(void) {
  if (pipe(pipefd) < 0) return 1;
  pthread_t th;
  pthread_create(&th, NULL, worker, NULL);
  while (!worker_tid) sched_yield();
  show("worker in read(2)", worker_tid, 'S');
  show("main thread", getpid(), 'R');
  char threads[32];
  status_field(getpid(), "Threads", threads, sizeof threads);
  printf("threads: %s\n", threads);
  write(pipefd[1], "x", 1);
  pthread_join(th, NULL);
  return 0;
}

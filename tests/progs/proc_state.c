// The state /proc/[pid]/stat and status show for a process that runs, waits in a read, is
// stopped, and has exited unreaped. A waiting process is polled until it shows S (it takes a
// moment to get there), so the output does not depend on timing.
#define _GNU_SOURCE
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static char stat_state(pid_t pid) {
  char path[64], buf[512];
  snprintf(path, sizeof path, "/proc/%d/stat", pid);
  FILE *f = fopen(path, "r");
  if (!f) return '?';
  size_t n = fread(buf, 1, sizeof buf - 1, f);
  fclose(f);
  buf[n] = 0;
  char *p = strrchr(buf, ')');
  return p && p[1] == ' ' ? p[2] : '?';
}

static void status_state(pid_t pid, char *out, size_t len) {
  char path[64], line[256];
  snprintf(path, sizeof path, "/proc/%d/status", pid);
  FILE *f = fopen(path, "r");
  snprintf(out, len, "none");
  if (!f) return;
  while (fgets(line, sizeof line, f)) {
    if (!strncmp(line, "State:", 6)) {
      line[strcspn(line, "\n")] = 0;
      snprintf(out, len, "%s", line + 7);
      break;
    }
  }
  fclose(f);
}

// Polls until the state is `want` (up to 20 s: only a hang takes that long).
static char await_state(pid_t pid, char want) {
  char s = '?';
  for (int i = 0; i < 2000; i++) {
    if ((s = stat_state(pid)) == want) break;
    struct timespec ts = {0, 10 * 1000 * 1000};
    nanosleep(&ts, NULL);
  }
  return s;
}

static void show(const char *what, pid_t pid, char want) {
  char st[64];
  char s = await_state(pid, want);
  status_state(pid, st, sizeof st);
  printf("%s: stat %c, status %s\n", what, s, st);
}

int main(void) {
  char st[64];
  status_state(getpid(), st, sizeof st);
  printf("self: stat %c, status %s\n", stat_state(getpid()), st);

  int p[2];
  if (pipe(p) < 0) return 1;
  pid_t reader = fork();
  if (reader == 0) {
    char c;
    close(p[1]);
    _exit(read(p[0], &c, 1) == 1 ? 0 : 1);
  }
  close(p[0]);
  show("reader in read(2)", reader, 'S');
  write(p[1], "x", 1);
  close(p[1]);
  int status;
  waitpid(reader, &status, 0);
  printf("reader exit: %d\n", WEXITSTATUS(status));

  pid_t stopped = fork();
  if (stopped == 0) {
    raise(SIGSTOP);
    _exit(3);
  }
  waitpid(stopped, &status, WUNTRACED);
  printf("stopped by: %d\n", WIFSTOPPED(status) ? WSTOPSIG(status) : -1);
  show("stopped", stopped, 'T');
  kill(stopped, SIGCONT);
  waitpid(stopped, &status, 0);
  printf("stopped exit: %d\n", WEXITSTATUS(status));

  pid_t zombie = fork();
  if (zombie == 0) _exit(4);
  show("exited, not reaped", zombie, 'Z');
  waitpid(zombie, &status, 0);
  printf("zombie exit: %d\n", WEXITSTATUS(status));
  return 0;
}

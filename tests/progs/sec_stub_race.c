// Races against the memory the ptrace platform once shared with the application: threads read
// and write the pages above the highest address the application may map (the stub's page and
// the one above it) and the old batch page (DATA_ADDR), while another thread changes the
// address space as fast as it can (each change makes the Sentry flush a batch to the stub).
// Every write must fault, reads of anything but the stub's own code must fault, and the
// program must complete. `hold` instead makes threads and a child and waits (for the host-side
// checks of tests/security/stub_test.ts).
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#define OLD_DATA_ADDR 0x7fffffffd000UL
#define STUB_ADDR 0x7fffffffe000UL
#define TOP_PAGE 0x7ffffffff000UL
#define ROUNDS 300

static __thread sigjmp_buf jb;
static __thread volatile int armed;
static volatile int stop;

static void on_segv(int sig) {
  (void)sig;
  if (armed) siglongjmp(jb, 1);
  _exit(99);
}

// 1 if the access faulted.
static int faults(volatile uint8_t *p, int write) {
  armed = 1;
  if (sigsetjmp(jb, 1)) {
    armed = 0;
    return 1;
  }
  if (write) *p = 0xcc;
  else (void)*p;
  armed = 0;
  return 0;
}

struct result {
  long tries, write_faults, read_faults, reads;
};

static void *hammer(void *arg) {
  struct result *r = arg;
  const uintptr_t pages[] = {OLD_DATA_ADDR, STUB_ADDR, TOP_PAGE};
  for (int i = 0; i < ROUNDS; i++) {
    for (int j = 0; j < 3; j++) {
      for (uintptr_t off = 0; off < 4096; off += 1024) {
        volatile uint8_t *p = (volatile uint8_t *)(pages[j] + off);
        r->tries++;
        r->write_faults += faults(p, 1);
        // The stub's code may be readable (it is on the ptrace platform, as in gVisor): it is
        // public and read-only. Everything else must not be.
        if (pages[j] != STUB_ADDR) {
          r->reads++;
          r->read_faults += faults(p, 0);
        }
      }
    }
  }
  return NULL;
}

static void *churn(void *arg) {
  long *n = arg;
  while (!stop) {
    uint8_t *m = mmap(NULL, 16 * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED) continue;
    m[0] = 1;
    m[5 * 4096] = 2;
    mprotect(m, 4096, PROT_READ);
    munmap(m + 8 * 4096, 4096);
    munmap(m, 16 * 4096);
    (*n)++;
  }
  return NULL;
}

static int hold(void) {
  pthread_t t[2];
  for (int i = 0; i < 2; i++) pthread_create(&t[i], NULL, (void *(*)(void *))pause, NULL);
  pid_t c = fork();
  if (c == 0) {
    pause();
    _exit(0);
  }
  printf("ready\n");
  fflush(stdout);
  sleep(60);
  return 0;
}

int main(int argc, char **argv) {
  if (argc > 1 && strcmp(argv[1], "hold") == 0) return hold();
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_segv;
  sa.sa_flags = SA_NODEFER;
  sigaction(SIGSEGV, &sa, NULL);
  sigaction(SIGBUS, &sa, NULL);

  long changes = 0;
  pthread_t c, h[3];
  struct result r[3];
  memset(r, 0, sizeof r);
  pthread_create(&c, NULL, churn, &changes);
  for (int i = 0; i < 3; i++) pthread_create(&h[i], NULL, hammer, &r[i]);
  for (int i = 0; i < 3; i++) pthread_join(h[i], NULL);
  stop = 1;
  pthread_join(c, NULL);
  for (int i = 0; i < 3; i++) {
    printf("thread %d: writes faulted %s, reads faulted %s\n", i,
           r[i].write_faults == r[i].tries ? "all" : "NOT ALL",
           r[i].read_faults == r[i].reads ? "all" : "NOT ALL");
  }
  printf("address-space changes made: %s\n", changes > 0 ? "yes" : "no");
  // A MAP_FIXED mapping at the old batch page is the application's own, like any other, or
  // refused where the platform's top is lower (KVM): never shared with anything else.
  uint8_t *d = mmap((void *)OLD_DATA_ADDR, 4096, PROT_READ | PROT_WRITE,
                    MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
  int ok = d == MAP_FAILED;
  if (!ok) {
    memset(d, 0x41, 4096);
    ok = d[4095] == 0x41 && d[0] == 0x41;
  }
  printf("old batch page: mine or refused %d\n", ok);
  // The program is still here and its system calls still work.
  printf("done pid>0 %d\n", getpid() > 0);
  return 0;
}

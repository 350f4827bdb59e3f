// AMX tile state (XTILECFG, XTILEDATA). Linux gives tiles only to a process that asked with
// arch_prctl(ARCH_REQ_XCOMP_PERM, XFEATURE_XTILEDATA); before that a tile instruction raises
// SIGILL (a tile configuration alone needs none, and is the task's own state), and the kernel
// switches tile state with the task, so no process sees another's tiles. What a process is told must match what works: ARCH_GET_XCOMP_SUPP and the request
// agree, and a granted request gives working tiles.
#define _GNU_SOURCE
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#define ARCH_GET_XCOMP_SUPP 0x1021
#define ARCH_REQ_XCOMP_PERM 0x1023
#define XFEATURE_XTILEDATA 18

static sigjmp_buf back;
static volatile int got;

static void on_signal(int sig) {
  got = sig;
  siglongjmp(back, 1);
}

// A palette-1 tile config: tile 0 of 16 rows of 64 bytes.
static uint8_t cfg[64] __attribute__((aligned(64)));
static uint8_t tile[16 * 64] __attribute__((aligned(64)));

static void set_config(void) {
  memset(cfg, 0, sizeof cfg);
  cfg[0] = 1;
  cfg[16] = 64; // colsb[0] (bytes per row)
  cfg[48] = 16; // rows[0]
}

// Loads a tile configuration (no permission needed: only tile data needs one), makes a system
// call and reads the configuration back: 1 if it is still there, as the task's own state.
static int config_survives_syscall(void) {
  set_config();
  got = 0;
  if (sigsetjmp(back, 1) == 0) {
    __asm__ volatile("ldtilecfg (%0)" ::"r"(cfg) : "memory");
    syscall(SYS_getppid);
    memset(cfg, 0, sizeof cfg);
    __asm__ volatile("sttilecfg (%0)" ::"r"(cfg) : "memory");
    int kept = cfg[0] == 1;
    __asm__ volatile("tilerelease");
    return kept;
  }
  return 0;
}

// In a child: loads a tile configuration, then fills tile 0 from memory (`fill`) or stores
// it to memory. Natively tile data needs the permission (SIGILL). Returns 1 when the child
// stored the data another child had filled.
static int child_with_tiles(int fill) {
  pid_t c = fork();
  if (c == 0) {
    set_config();
    memset(tile, fill ? 0x5a : 0, sizeof tile);
    if (sigsetjmp(back, 1) == 0) {
      __asm__ volatile("ldtilecfg (%0)" ::"r"(cfg) : "memory");
      if (fill) {
        __asm__ volatile("tileloadd (%0,%1,1), %%tmm0" ::"r"(tile), "r"((long)64) : "memory");
      } else {
        __asm__ volatile("tilestored %%tmm0, (%0,%1,1)" ::"r"(tile), "r"((long)64) : "memory");
      }
    }
    _exit(!fill && tile[0] == 0x5a);
  }
  int st = 0;
  waitpid(c, &st, 0);
  return WIFEXITED(st) && WEXITSTATUS(st) == 1;
}

// A child fills tile 0 and exits; the next child, a copy of a parent that never touched
// tiles, must not find that data in its own tile 0. Done a few times, so that a child runs
// where the one before it ran.
static int seen_by_next_child(void) {
  int seen = 0;
  for (int i = 0; i < 10; i++) {
    child_with_tiles(1);
    seen += child_with_tiles(0);
  }
  return seen;
}

// Loads a config, zeroes tile 0 and stores it: 0 if that worked, else the signal it raised.
static int use_tiles(void) {
  set_config();
  memset(tile, 0x5a, sizeof tile);
  got = 0;
  if (sigsetjmp(back, 1) == 0) {
    __asm__ volatile("ldtilecfg (%0)\n\t"
                     "tilezero %%tmm0\n\t"
                     "tilestored %%tmm0, (%1,%2,1)\n\t"
                     "tilerelease" ::"r"(cfg),
                     "r"(tile), "r"((long)64)
                     : "memory");
    for (unsigned i = 0; i < sizeof tile; i++) {
      if (tile[i] != 0) return -1;
    }
  }
  return got;
}

int main(void) {
  setvbuf(stdout, NULL, _IONBF, 0);
  signal(SIGILL, on_signal);
  signal(SIGSEGV, on_signal);

  printf("a tile configuration survives a system call: %s\n",
         config_survives_syscall() ? "yes" : "no");
  printf("a child's tile data seen by the next child: %d times\n",
         seen_by_next_child());

  uint64_t supp = 0;
  long r = syscall(SYS_arch_prctl, ARCH_GET_XCOMP_SUPP, &supp);
  printf("ARCH_GET_XCOMP_SUPP: %s\n", r == 0 ? "ok" : strerror(errno));
  int supported = r == 0 && (supp & (1ull << XFEATURE_XTILEDATA));
  r = syscall(SYS_arch_prctl, ARCH_REQ_XCOMP_PERM, XFEATURE_XTILEDATA);
  int granted = r == 0;
  // Linux answers 0, or EOPNOTSUPP where the feature is not offered.
  printf("request answered as Linux does: %s\n",
         granted || errno == EOPNOTSUPP ? "yes" : strerror(errno));
  printf("ARCH_GET_XCOMP_SUPP agrees with the request: %s\n",
         supported == granted ? "yes" : "no");
  int s = granted ? use_tiles() : 0;
  printf("tiles after a granted request: %s\n",
         s == 0 ? "work (or none granted)" : s == SIGILL ? "SIGILL" : "fail");
  errno = 0;
  r = syscall(SYS_arch_prctl, ARCH_REQ_XCOMP_PERM, 64);
  printf("request of component 64: %s\n", r == 0 ? "ok" : strerror(errno));
  return 0;
}

// FPU state across clone: a new thread starts with its creator's control state (MXCSR, x87
// control word), never with that of a thread that ran before it and exited, and a thread's
// changes stay its own.
#define _GNU_SOURCE
#include <pthread.h>
#include <stdio.h>
#include <xmmintrin.h>

static unsigned seen[2];
static unsigned short cw_seen[2];

static void *look_then_change(void *arg) {
  long i = (long)arg;
  seen[i] = _mm_getcsr();
  __asm__ volatile("fnstcw %0" : "=m"(cw_seen[i]));
  // Leave something else behind for whoever comes next.
  _mm_setcsr(0x1f80 | 0x2000);  // round down
  unsigned short cw = 0x27f;    // double precision
  __asm__ volatile("fldcw %0" : : "m"(cw));
  return NULL;
}

int main(void) {
  _mm_setcsr(0x1f80 | 0x6000);  // round toward zero
  unsigned short cw = 0x7f;     // single precision
  __asm__ volatile("fldcw %0" : : "m"(cw));
  for (long i = 0; i < 2; i++) {
    pthread_t t;
    pthread_create(&t, NULL, look_then_change, (void *)i);
    pthread_join(t, NULL);
  }
  unsigned short mine;
  __asm__ volatile("fnstcw %0" : "=m"(mine));
  printf("first thread: mxcsr 0x%x, fpu cw 0x%x\n", seen[0], cw_seen[0]);
  printf("second thread: mxcsr 0x%x, fpu cw 0x%x\n", seen[1], cw_seen[1]);
  printf("creator kept: mxcsr 0x%x, fpu cw 0x%x\n", _mm_getcsr(), mine);
  return 0;
}

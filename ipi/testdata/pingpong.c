// pingpong: the cross-core round-trip floor of a machine, in C, without Go.
// Two threads pinned to CPUs 0 and 1 take turns on one cache line: each
// waits for the other's value, then writes its own. docs/lwkt.md compares
// this with BenchmarkCacheLinePingPong (the same in Go) and the IPI figures.
//
//   gcc -O2 -pthread ipi/testdata/pingpong.c -o /tmp/pingpong && /tmp/pingpong
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <time.h>

enum { rounds = 2000000 };

static _Atomic long turn __attribute__((aligned(64)));

static void pin(int cpu) {
	cpu_set_t set;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	pthread_setaffinity_np(pthread_self(), sizeof set, &set);
}

static void *answer(void *arg) {
	(void)arg;
	pin(1);
	for (long i = 0; i < rounds; i++) {
		while (atomic_load_explicit(&turn, memory_order_acquire) != 2 * i + 1)
			;
		atomic_store_explicit(&turn, 2 * i + 2, memory_order_release);
	}
	return 0;
}

int main(void) {
	pthread_t t;
	struct timespec a, b;
	pthread_create(&t, 0, answer, 0);
	pin(0);
	clock_gettime(CLOCK_MONOTONIC, &a);
	for (long i = 0; i < rounds; i++) {
		atomic_store_explicit(&turn, 2 * i + 1, memory_order_release);
		while (atomic_load_explicit(&turn, memory_order_acquire) != 2 * i + 2)
			;
	}
	clock_gettime(CLOCK_MONOTONIC, &b);
	pthread_join(t, 0);
	double ns = (b.tv_sec - a.tv_sec) * 1e9 + (b.tv_nsec - a.tv_nsec);
	printf("%.1f ns per round trip\n", ns / rounds);
	return 0;
}

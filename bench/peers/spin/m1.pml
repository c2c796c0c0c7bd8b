/*
 * M1 (bench/peers/README.md): split vs zap vs fault on N pmds, race 002's protocol.
 *
 *   spin -DN=4 -DT=3 -DBUGGY=0 -a m1.pml
 *
 * N: pmds (1..8), T: threads (1..4: split, zap, fault, zap), BUGGY: 0 (fixed, INVALID is
 * its own value) or 1 (buggy, INVALID is NONE).
 *
 * The state vector is the abstract state and nothing else:
 *   pmd[N], lock[N], ti[T] (each thread's pmd i), ts[T] (each thread's step),
 * plus what SPIN always keeps: _nr_pr (constant T: every process is `active`, none is ever
 * created or ends, so there are no creation states) and one program counter per process.
 * Every process is one `do` loop whose options are the README's steps, one `d_step` each, and
 * every option returns to the loop head: a process's program counter never changes (it is
 * always the loop head), so it adds no states. A finished thread is (i = N, step = 0); no
 * option is enabled there, and it parks at the loop head, which is labelled `end` so that a
 * parked thread is a valid end state. (A thread waiting for a lock also waits at the loop
 * head; it can never deadlock, since the lock's holder always has an enabled step.)
 * So SPIN's "states, stored" is exactly the number of reachable abstract states.
 *
 * The state graph is acyclic (every step advances one thread's (i, step)
 * lexicographically), so no path is longer than 5 * N * T <= 160 steps.
 */

#ifndef N
#define N 1
#endif
#ifndef T
#define T 2
#endif
#ifndef BUGGY
#define BUGGY 0
#endif

#define NONE    0
#define HUGE    1
#if BUGGY
#define INVALID NONE    /* 32-bit ARM LPAE before v4.6: pmd_mknotpresent cleared the entry */
#else
#define INVALID 2       /* x86_64: pmdp_invalidate keeps a non-none entry */
#endif
#define TABLE   3

#define FREE    255     /* lock[i]: FREE or the holder's thread id */

/* thread ids (= SPIN pids, since the active proctypes are declared in this order) */
#define SPLIT   0
#define ZAP     1
#define FAULT   2
#define ZAP2    3

byte pmd[N] = HUGE;
byte lock[N] = FREE;
byte ti[T];             /* per thread: i,    initially 0 */
byte ts[T];             /* per thread: step, initially 0 */

/* The property INV-M1-NEVERNONE, at a lockless read of pmd[ti[t]] by thread t:
 * it sees NONE while the split thread (thread 0) is at (i, 3) on the same pmd. */
#define CHECK(t) assert(!(pmd[ti[t]] == NONE && ti[SPLIT] == ti[t] && ts[SPLIT] == 3))

/* "next pmd": i += 1, step = 0 (i == N is the finished thread) */
#define NEXT(t) ti[t]++; ts[t] = 0

/* Steps 1..4 of zap; step 0 is its lockless read. */
#define ZAP_BODY(t) \
end: \
	do \
	:: d_step { ti[t] < N && ts[t] == 0 -> \
		CHECK(t); \
		if \
		:: pmd[ti[t]] == NONE -> NEXT(t) \
		:: else -> ts[t] = 1 \
		fi } \
	:: d_step { ts[t] == 1 && lock[ti[t]] == FREE -> lock[ti[t]] = t; ts[t] = 2 } \
	:: d_step { ts[t] == 2 -> \
		if \
		:: pmd[ti[t]] == HUGE -> ts[t] = 3 \
		:: else -> ts[t] = 4 \
		fi } \
	:: d_step { ts[t] == 3 -> pmd[ti[t]] = NONE; ts[t] = 4 } \
	:: d_step { ts[t] == 4 -> lock[ti[t]] = FREE; NEXT(t) } \
	od

#if T >= 1
active proctype split()
{
end:
	do
	:: d_step { ti[SPLIT] < N && ts[SPLIT] == 0 && lock[ti[SPLIT]] == FREE ->
		lock[ti[SPLIT]] = SPLIT; ts[SPLIT] = 1 }
	:: d_step { ts[SPLIT] == 1 ->
		if
		:: pmd[ti[SPLIT]] == HUGE -> ts[SPLIT] = 2
		:: else -> ts[SPLIT] = 4
		fi }
	:: d_step { ts[SPLIT] == 2 -> pmd[ti[SPLIT]] = INVALID; ts[SPLIT] = 3 }
	:: d_step { ts[SPLIT] == 3 -> pmd[ti[SPLIT]] = TABLE; ts[SPLIT] = 4 }
	:: d_step { ts[SPLIT] == 4 -> lock[ti[SPLIT]] = FREE; NEXT(SPLIT) }
	od
}
#endif

#if T >= 2
active proctype zap()
{
	ZAP_BODY(ZAP)
}
#endif

#if T >= 3
active proctype fault()
{
end:
	do
	:: d_step { ti[FAULT] < N && ts[FAULT] == 0 ->
		CHECK(FAULT);
		if
		:: pmd[ti[FAULT]] == NONE -> ts[FAULT] = 1
		:: else -> NEXT(FAULT)
		fi }
	:: d_step { ts[FAULT] == 1 && lock[ti[FAULT]] == FREE -> lock[ti[FAULT]] = FAULT; ts[FAULT] = 2 }
	:: d_step { ts[FAULT] == 2 ->
		if
		:: pmd[ti[FAULT]] == NONE -> ts[FAULT] = 3
		:: else -> ts[FAULT] = 4
		fi }
	:: d_step { ts[FAULT] == 3 -> pmd[ti[FAULT]] = HUGE; ts[FAULT] = 4 }
	:: d_step { ts[FAULT] == 4 -> lock[ti[FAULT]] = FREE; NEXT(FAULT) }
	od
}
#endif

#if T >= 4
active proctype zap2()
{
	ZAP_BODY(ZAP2)
}
#endif

/*
 * M2 (bench/peers/README.md): M1 with mmap_lock and a khugepaged collapse.
 *
 *   spin -DN=4 -DT=3 -DBUGGY=0 -a m2.pml
 *
 * N: pmds (1..8), T: threads (1..4: split, zap, collapse, fault), BUGGY as in m1.pml.
 *
 * Built the way m1.pml is (see its comment and COUNTS.md): one `active proctype` per
 * thread, each one `do` loop of `d_step`s that all return to the loop head, so SPIN's
 * "states, stored" is the number of reachable abstract states. mmap_lock is `readers`,
 * `writer` and `queued`; the first two are functions of the threads' positions, so they add
 * no states, and `queued` is the state the README's rwsem has (a contended down_write queues
 * as a step of its own, and a queued writer holds new readers off).
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
#define INVALID NONE
#else
#define INVALID 2
#endif
#define TABLE   3

#define FREE    255

/* thread ids (= SPIN pids: the active proctypes are declared in this order) */
#define SPLIT    0
#define ZAP      1
#define COLLAPSE 2
#define FAULT    3

byte pmd[N] = HUGE;
byte lock[N] = FREE;
byte ti[T];
byte ts[T];
byte readers;
bit writer;
bit queued;

/* INV-M2-NEVERNONE at a lockless read by thread t (at step 1 of pmd ti[t]): it sees NONE
 * while split is at (i, 3) or collapse at (i, 4..6) on the same pmd. */
#if T > COLLAPSE
#define MID_COLLAPSE(t) (ti[COLLAPSE] == ti[t] && ts[COLLAPSE] >= 4 && ts[COLLAPSE] <= 6)
#else
#define MID_COLLAPSE(t) false
#endif
#define CHECK(t) assert(!(pmd[ti[t]] == NONE && \
	((ti[SPLIT] == ti[t] && ts[SPLIT] == 3) || MID_COLLAPSE(t))))

#define NEXT(t) ti[t]++; ts[t] = 0

/* Zap and fault differ in what their lockless read
 * leaves on, what their locked read writes on, and what they write. */
#define READER(t, LEAVE_IF_NONE, WRITE_IF, WRITES) \
end: \
	do \
	:: d_step { ti[t] < N && ts[t] == 0 && !writer && !queued -> readers++; ts[t] = 1 } \
	:: d_step { ts[t] == 1 -> \
		CHECK(t); \
		if \
		:: (pmd[ti[t]] == NONE) == LEAVE_IF_NONE -> ts[t] = 6 \
		:: else -> ts[t] = 2 \
		fi } \
	:: d_step { ts[t] == 2 && lock[ti[t]] == FREE -> lock[ti[t]] = t; ts[t] = 3 } \
	:: d_step { ts[t] == 3 -> \
		if \
		:: pmd[ti[t]] == WRITE_IF -> ts[t] = 4 \
		:: else -> ts[t] = 5 \
		fi } \
	:: d_step { ts[t] == 4 -> pmd[ti[t]] = WRITES; ts[t] = 5 } \
	:: d_step { ts[t] == 5 -> lock[ti[t]] = FREE; ts[t] = 6 } \
	:: d_step { ts[t] == 6 -> readers--; NEXT(t) } \
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
	READER(ZAP, true, HUGE, NONE)
}
#endif

#if T >= 3
active proctype collapse()
{
end:
	do
	/* down_write: acquire when free; else queue once (a step); else blocked */
	:: d_step { ti[COLLAPSE] < N && ts[COLLAPSE] == 0 && (readers == 0 && !writer || !queued) ->
		if
		:: readers == 0 && !writer -> writer = 1; queued = 0; ts[COLLAPSE] = 1
		:: else -> queued = 1
		fi }
	:: d_step { ts[COLLAPSE] == 1 && lock[ti[COLLAPSE]] == FREE ->
		lock[ti[COLLAPSE]] = COLLAPSE; ts[COLLAPSE] = 2 }
	:: d_step { ts[COLLAPSE] == 2 ->
		if
		:: pmd[ti[COLLAPSE]] == TABLE -> ts[COLLAPSE] = 3
		:: else -> ts[COLLAPSE] = 7
		fi }
	:: d_step { ts[COLLAPSE] == 3 -> pmd[ti[COLLAPSE]] = NONE; ts[COLLAPSE] = 4 }
	:: d_step { ts[COLLAPSE] == 4 -> lock[ti[COLLAPSE]] = FREE; ts[COLLAPSE] = 5 }
	:: d_step { ts[COLLAPSE] == 5 && lock[ti[COLLAPSE]] == FREE ->
		lock[ti[COLLAPSE]] = COLLAPSE; ts[COLLAPSE] = 6 }
	:: d_step { ts[COLLAPSE] == 6 -> pmd[ti[COLLAPSE]] = HUGE; ts[COLLAPSE] = 7 }
	:: d_step { ts[COLLAPSE] == 7 -> lock[ti[COLLAPSE]] = FREE; ts[COLLAPSE] = 8 }
	:: d_step { ts[COLLAPSE] == 8 -> writer = 0; NEXT(COLLAPSE) }
	od
}
#endif

#if T >= 4
active proctype fault()
{
	READER(FAULT, false, NONE, HUGE)
}
#endif

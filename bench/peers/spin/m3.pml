/*
 * M3 (bench/peers/README.md): M2 with page-table lifetime and a GUP-fast walker.
 *
 *   spin -DN=4 -DT=3 -DBUGGY=0 -a m3.pml
 *
 * N: pmds (1..8), T: threads (1..4: split, zap, walker, collapse), BUGGY: 0 (fixed: INVALID
 * is its own value, and zap and collapse wait for a grace period) or 1 (buggy: INVALID is
 * NONE, and neither waits).
 *
 * Built the way m1.pml and m2.pml are (see m1.pml's comment and COUNTS.md): one
 * `active proctype` per thread, each one `do` loop of `d_step`s that all return to the loop
 * head, so SPIN's "states, stored" is the number of reachable abstract states. The walker's
 * position is ts[WALKER] (ti[WALKER] stays 0); "the walker is inside its section" is a
 * function of it, so the RCU domain adds only `gp` (a grace period has begun and waits).
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
#define GRACE   0
#else
#define INVALID 2
#define GRACE   1
#endif
#define TABLE   3

#define FREE    255

/* thread ids (= SPIN pids: the active proctypes are declared in this order) */
#define SPLIT    0
#define ZAP      1
#define WALKER   2
#define COLLAPSE 3

byte pmd[N] = HUGE;
byte lock[N] = FREE;
bit freed[N];
byte ti[T];
byte ts[T];
byte readers;
bit writer;
bit queued;
bit gp;

#if T > WALKER
#define INSIDE (ts[WALKER] >= 1 && ts[WALKER] <= 2 * N + 1)
#else
#define INSIDE false
#endif

/* INV-M2-NEVERNONE at zap's lockless read (step 1 of pmd ti[ZAP]): it sees NONE while split
 * is at (i, 3) or collapse at (i, 4), (i, 5), (i, 6) or (i, 9) on the same pmd. */
#if T > COLLAPSE
#define MID_COLLAPSE (ti[COLLAPSE] == ti[ZAP] && \
	(ts[COLLAPSE] >= 4 && ts[COLLAPSE] <= 6 || ts[COLLAPSE] == 9))
#else
#define MID_COLLAPSE false
#endif
#define CHECK assert(!(pmd[ti[ZAP]] == NONE && \
	((ti[SPLIT] == ti[ZAP] && ts[SPLIT] == 3) || MID_COLLAPSE)))

#define NEXT(t) ti[t]++; ts[t] = 0

/* A grace period by thread t at step FROM, going on to TO: begins (a step of its own) while
 * the walker is inside, then waits for it to leave; at once when it is not inside. */
#define GRACE_PERIOD(t, FROM, TO) \
	:: d_step { ts[t] == FROM && (!gp || !INSIDE) -> \
		if \
		:: INSIDE -> gp = 1 \
		:: else -> gp = 0; ts[t] = TO \
		fi }

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
end:
	do
	:: d_step { ti[ZAP] < N && ts[ZAP] == 0 && !writer && !queued -> readers++; ts[ZAP] = 1 }
	:: d_step { ts[ZAP] == 1 ->
		CHECK;
		if
		:: pmd[ti[ZAP]] == NONE -> ts[ZAP] = 10
		:: else -> ts[ZAP] = 2
		fi }
	:: d_step { ts[ZAP] == 2 && lock[ti[ZAP]] == FREE -> lock[ti[ZAP]] = ZAP; ts[ZAP] = 3 }
	:: d_step { ts[ZAP] == 3 ->
		if
		:: pmd[ti[ZAP]] == HUGE -> ts[ZAP] = 4
		:: pmd[ti[ZAP]] == TABLE -> ts[ZAP] = 5
		:: else -> ts[ZAP] = 6
		fi }
	/* zap_huge_pmd: clear, and free the deposit at once (no walker can reach it) */
	:: d_step { ts[ZAP] == 4 -> pmd[ti[ZAP]] = NONE; freed[ti[ZAP]] = 1; ts[ZAP] = 6 }
	:: d_step { ts[ZAP] == 5 -> pmd[ti[ZAP]] = NONE; ts[ZAP] = 7 }
	:: d_step { ts[ZAP] == 6 -> lock[ti[ZAP]] = FREE; ts[ZAP] = 10 }
	:: d_step { ts[ZAP] == 7 -> lock[ti[ZAP]] = FREE;
		if
		:: GRACE -> ts[ZAP] = 8
		:: else -> ts[ZAP] = 9
		fi }
	GRACE_PERIOD(ZAP, 8, 9)
	:: d_step { ts[ZAP] == 9 -> freed[ti[ZAP]] = 1; ts[ZAP] = 10 }
	:: d_step { ts[ZAP] == 10 -> readers--; NEXT(ZAP) }
	od
}
#endif

#if T >= 3
active proctype walker()
{
end:
	do
	:: d_step { ts[WALKER] == 0 -> ts[WALKER] = 1 }
	/* read pmd i at 1 + 2i */
	:: d_step { ts[WALKER] >= 1 && ts[WALKER] < 2 * N + 1 && ts[WALKER] % 2 == 1 ->
		if
		:: pmd[(ts[WALKER] - 1) / 2] == TABLE -> ts[WALKER] = ts[WALKER] + 1
		:: pmd[(ts[WALKER] - 1) / 2] == HUGE -> ts[WALKER] = ts[WALKER] + 2
		:: else -> ts[WALKER] = 2 * N + 1
		fi }
	/* read a pte of pmd i's table at 2 + 2i: INV-TABLE-LIFE */
	:: d_step { ts[WALKER] >= 2 && ts[WALKER] <= 2 * N && ts[WALKER] % 2 == 0 ->
		assert(!freed[(ts[WALKER] - 2) / 2]); ts[WALKER] = ts[WALKER] + 1 }
	:: d_step { ts[WALKER] == 2 * N + 1 -> ts[WALKER] = 2 * N + 2 }
	od
}
#endif

#if T >= 4
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
	:: d_step { ts[COLLAPSE] == 4 -> lock[ti[COLLAPSE]] = FREE;
		if
		:: GRACE -> ts[COLLAPSE] = 9
		:: else -> ts[COLLAPSE] = 5
		fi }
	/* tlb_remove_table_sync_one (v6.12 mm/khugepaged.c:1184) */
	GRACE_PERIOD(COLLAPSE, 9, 5)
	:: d_step { ts[COLLAPSE] == 5 && lock[ti[COLLAPSE]] == FREE ->
		lock[ti[COLLAPSE]] = COLLAPSE; ts[COLLAPSE] = 6 }
	/* set_pmd_at; the old table is deposited again */
	:: d_step { ts[COLLAPSE] == 6 -> pmd[ti[COLLAPSE]] = HUGE; ts[COLLAPSE] = 7 }
	:: d_step { ts[COLLAPSE] == 7 -> lock[ti[COLLAPSE]] = FREE; ts[COLLAPSE] = 8 }
	:: d_step { ts[COLLAPSE] == 8 -> writer = 0; NEXT(COLLAPSE) }
	od
}
#endif

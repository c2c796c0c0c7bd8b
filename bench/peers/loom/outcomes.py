#!/usr/bin/env python3
"""Outcomes of the README's M1 or M2 (fixed unless --buggy), by brute force over every
interleaving of its steps: one line per distinct end state, the final pmds and, per thread (split
first), the values of all its pmd reads, as `m1-loom --outcomes` / `m1-shuttle --outcomes` write
them (with `--model m2` for --m2).

usage: outcomes.py T N [--buggy] [--m2]   (sorted lines on stdout)

An exhaustive checker of the code must reach every one of these lines (and no other):
`comm -3 <(outcomes.py T N) <(sort FILE)` is empty for a complete exploration.

M2's mmap_lock is the README's rwsem (writer preference, a contended down_write queues as a step
of its own). Its queueing only removes interleavings and changes no pmd and no read, so a plain
reader-writer lock (loom's, shuttle's) has the same outcomes.
"""
import sys

NONE, HUGE, INVALID, TABLE = 0, 1, 2, 3
ROLES = {False: ["split", "zap", "fault", "zap"], True: ["split", "zap", "collapse", "fault"]}


def outcomes(T, N, invalid, m2=False):
    roles = ROLES[m2][:T]
    res, seen = set(), set()
    # mmap_lock: (readers, writer held, queued); never touched in M1.
    stack = [((HUGE,) * N, (None,) * N, ((0, 0),) * T, ((),) * T, (0, False, False))]
    while stack:
        key = stack.pop()
        if key in seen:
            continue
        seen.add(key)
        pmd, lock, pos, reads, mm = key
        if all(i == N for i, _ in pos):
            res.add("%s %s" % (list(pmd), [list(r) for r in reads]))
            continue
        for t, role in enumerate(roles):
            i, st = pos[t]
            if i == N:
                continue
            P, L, R = list(pmd), list(lock), list(reads)
            readers, writer, queued = mm
            ni, ns = i, st

            def read():
                R[t] = R[t] + (P[i],)
                return P[i]

            if role == "split":
                if st == 0:
                    if L[i] is not None:
                        continue
                    L[i], ns = t, 1
                elif st == 1:
                    ns = 2 if read() == HUGE else 4
                elif st == 2:
                    P[i], ns = invalid, 3
                elif st == 3:
                    P[i], ns = TABLE, 4
                else:
                    L[i], ni, ns = None, i + 1, 0
            elif role == "collapse":
                if st == 0:
                    if readers == 0 and not writer:
                        writer, queued, ns = True, False, 1
                    elif not queued:
                        queued = True
                    else:
                        continue
                elif st in (1, 5):
                    if L[i] is not None:
                        continue
                    L[i], ns = t, st + 1
                elif st == 2:
                    ns = 3 if read() == TABLE else 7
                elif st == 3:
                    P[i], ns = NONE, 4
                elif st in (4, 7):
                    L[i], ns = None, st + 1
                elif st == 6:
                    P[i], ns = HUGE, 7
                else:
                    writer, ni, ns = False, i + 1, 0
            else:
                zap = role == "zap"
                # M2 wraps M1's steps 0-4 (as 1-5) in down_read (0) and up_read (6).
                k = st - 1 if m2 else st
                done = (i, 6) if m2 else (i + 1, 0)
                if m2 and st == 0:
                    if writer or queued:
                        continue
                    readers, ns = readers + 1, 1
                elif m2 and st == 6:
                    readers, ni, ns = readers - 1, i + 1, 0
                elif k == 0:
                    v = read()
                    go_on = (v != NONE) if zap else (v == NONE)
                    ni, ns = (i, st + 1) if go_on else done
                elif k == 1:
                    if L[i] is not None:
                        continue
                    L[i], ns = t, st + 1
                elif k == 2:
                    v = read()
                    ns = st + 1 if v == (HUGE if zap else NONE) else st + 2
                elif k == 3:
                    P[i], ns = (NONE if zap else HUGE), st + 1
                else:
                    L[i] = None
                    ni, ns = done
            npos = list(pos)
            npos[t] = (ni, ns)
            stack.append((tuple(P), tuple(L), tuple(npos), tuple(R), (readers, writer, queued)))
    return res


if __name__ == "__main__":
    args = [a for a in sys.argv[1:] if a not in ("--buggy", "--m2")]
    if len(args) != 2:
        sys.exit(__doc__)
    T, N = int(args[0]), int(args[1])
    invalid = NONE if "--buggy" in sys.argv else INVALID
    for line in sorted(outcomes(T, N, invalid, "--m2" in sys.argv)):
        print(line)

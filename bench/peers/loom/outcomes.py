#!/usr/bin/env python3
"""Outcomes of the README's M1 (fixed unless --buggy), by brute force over every interleaving of
its steps: one line per distinct end state, the final pmds and, per thread (split first), the
values of all its pmd reads, as `m1-loom --outcomes` / `m1-shuttle --outcomes` write them.

usage: outcomes.py T N [--buggy]   (sorted lines on stdout)

An exhaustive checker of the code must reach every one of these lines (and no other):
`comm -3 <(outcomes.py T N) <(sort FILE)` is empty for a complete exploration.
"""
import sys

NONE, HUGE, INVALID, TABLE = 0, 1, 2, 3
ROLES = ["split", "zap", "fault", "zap"]


def outcomes(T, N, invalid):
    roles = ROLES[:T]
    res, seen = set(), set()
    stack = [((HUGE,) * N, (None,) * N, ((0, 0),) * T, ((),) * T)]
    while stack:
        key = stack.pop()
        if key in seen:
            continue
        seen.add(key)
        pmd, lock, pos, reads = key
        if all(i == N for i, _ in pos):
            res.add("%s %s" % (list(pmd), [list(r) for r in reads]))
            continue
        for t, role in enumerate(roles):
            i, st = pos[t]
            if i == N:
                continue
            P, L, R = list(pmd), list(lock), list(reads)
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
            else:
                zap = role == "zap"
                if st == 0:
                    v = read()
                    go_on = (v != NONE) if zap else (v == NONE)
                    ni, ns = (i, 1) if go_on else (i + 1, 0)
                elif st == 1:
                    if L[i] is not None:
                        continue
                    L[i], ns = t, 2
                elif st == 2:
                    v = read()
                    ns = 3 if v == (HUGE if zap else NONE) else 4
                elif st == 3:
                    P[i], ns = (NONE if zap else HUGE), 4
                else:
                    L[i], ni, ns = None, i + 1, 0
            npos = list(pos)
            npos[t] = (ni, ns)
            stack.append((tuple(P), tuple(L), tuple(npos), tuple(R)))
    return res


if __name__ == "__main__":
    args = [a for a in sys.argv[1:] if a != "--buggy"]
    if len(args) != 2:
        sys.exit(__doc__)
    T, N = int(args[0]), int(args[1])
    for line in sorted(outcomes(T, N, NONE if "--buggy" in sys.argv else INVALID)):
        print(line)

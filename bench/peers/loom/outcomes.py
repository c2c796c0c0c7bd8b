#!/usr/bin/env python3
"""Outcomes of the README's M1, M2 or M3 (fixed unless --buggy), by brute force over every
interleaving of its steps: one line per distinct end state, the final pmds and, per thread (split
first), the values of all its pmd reads, as `m1-loom --outcomes` / `m1-shuttle --outcomes` write
them (with `--model m2` for --m2, `--model m3` for --m3). M3's walker records its pmd reads (its
pte reads have no value); which tables are freed is a function of the final pmds (a pmd ends
`NONE` exactly when the zap cleared it, and the zap frees what it clears), so it is left out.

usage: outcomes.py T N [--buggy] [--m2 | --m3 [--no-grace | --no-collapse-grace]]
       (sorted lines on stdout; on stderr, the properties violated along the way, if any)

M3's `--no-grace` drops both grace periods with the fixed encoding (the crates' test-only
`Model::M3NoGrace`), `--no-collapse-grace` only the collapse's (`Model::M3NoCollapseGrace`);
`--buggy` drops both, as the README's buggy variant does.

An exhaustive checker of the code must reach every one of these lines (and no other):
`comm -3 <(outcomes.py T N) <(sort FILE)` is empty for a complete exploration.

M2's mmap_lock is the README's rwsem (writer preference, a contended down_write queues as a step
of its own). Its queueing only removes interleavings and changes no pmd and no read, so a plain
reader-writer lock (loom's, shuttle's) has the same outcomes. The same holds for M3's grace
period's `gp = true` step (the crates' grace period is a blocked `RwLock::write`).

Projected onto the README's state (read values left out), the states this search visits are
pgtable's counts in expected-states.txt (checked for M1, M2 and M3 at T<=4, N<=2).
"""
import sys

NONE, HUGE, INVALID, TABLE = 0, 1, 2, 3
ROLES = {
    "m1": ["split", "zap", "fault", "zap"],
    "m2": ["split", "zap", "collapse", "fault"],
    "m3": ["split", "zap3", "walker", "collapse"],
}


def outcomes(T, N, invalid, model="m1", zap_grace=True, collapse_grace=True, violations=None):
    """The outcomes of `model` ("m1", "m2" or "m3"). The grace periods are M3's (and only in
    its fixed variant: the caller clears them for --buggy). When `violations` is a set, the names
    of the properties violated along the way are added to it."""
    m2 = model != "m1"
    m3 = model == "m3"
    roles = ROLES[model][:T]
    # A thread's end position; M3's walker is at (i, 1) for its read of pmd i (position 1 + 2i),
    # (i, 2) for its pte read of table i (2 + 2i), (N, 1) to leave (1 + 2N), (0, 0) to enter.
    end = [(N + 1, 0) if role == "walker" else (N, 0) for role in roles]
    res, seen = set(), set()
    # mmap_lock: (readers, writer held, queued); never touched in M1. M3: freed[] and gp.
    stack = [((HUGE,) * N, (None,) * N, ((0, 0),) * T, ((),) * T, (0, False, False),
              (False,) * N, False)]
    while stack:
        key = stack.pop()
        if key in seen:
            continue
        seen.add(key)
        pmd, lock, pos, reads, mm, freed, gp = key
        if list(pos) == end:
            res.add("%s %s" % (list(pmd), [list(r) for r in reads]))
            continue
        # The walker is inside its section: entered and not yet left.
        w = roles.index("walker") if "walker" in roles else None
        inside = w is not None and pos[w] not in ((0, 0), end[w])
        # The lockless reads' check: where the split and the collapse are.
        split_at = pos[0][0] if pos[0][1] == 3 else None
        collapse_at = None
        if "collapse" in roles:
            c = roles.index("collapse")
            if pos[c][1] in (4, 5, 6, 9):
                collapse_at = pos[c][0]
        for t, role in enumerate(roles):
            if pos[t] == end[t]:
                continue
            i, st = pos[t]
            P, L, R, F = list(pmd), list(lock), list(reads), list(freed)
            readers, writer, queued = mm
            ngp = gp
            ni, ns = i, st

            def read():
                R[t] = R[t] + (P[i],)
                return P[i]

            def check(v):
                # INV-M{1,2}-NEVERNONE, at a lockless read that saw v.
                if violations is not None and v == NONE and i in (split_at, collapse_at):
                    violations.add("INV-M2-NEVERNONE" if m2 else "INV-M1-NEVERNONE")

            def grace(go):
                # The README's gp: the next step, or None to stay, or False when blocked.
                nonlocal ngp
                if not gp:
                    if not inside:
                        return go
                    ngp = True
                    return None
                if not inside:
                    ngp = False
                    return go
                return False

            if role == "walker":
                if (i, st) == (0, 0):
                    ns = 1
                elif i == N:
                    ni, ns = end[t]
                elif st == 1:
                    v = read()
                    if v == TABLE:
                        ns = 2
                    elif v == HUGE:
                        ni = i + 1
                    else:
                        ni = N
                else:
                    if F[i] and violations is not None:
                        violations.add("INV-TABLE-LIFE")
                    ni, ns = i + 1, 1
            elif role == "zap3":
                if st == 0:
                    if writer or queued:
                        continue
                    readers, ns = readers + 1, 1
                elif st == 1:
                    v = read()
                    check(v)
                    ns = 10 if v == NONE else 2
                elif st == 2:
                    if L[i] is not None:
                        continue
                    L[i], ns = t, 3
                elif st == 3:
                    v = read()
                    ns = 4 if v == HUGE else 5 if v == TABLE else 6
                elif st == 4:
                    P[i], F[i], ns = NONE, True, 6
                elif st == 5:
                    P[i], ns = NONE, 7
                elif st == 6:
                    L[i], ns = None, 10
                elif st == 7:
                    L[i], ns = None, 8 if zap_grace else 9
                elif st == 8:
                    g = grace(9)
                    if g is False:
                        continue
                    if g is not None:
                        ns = g
                elif st == 9:
                    F[i], ns = True, 10
                else:
                    readers, ni, ns = readers - 1, i + 1, 0
            elif role == "split":
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
                elif st == 4:
                    L[i], ns = None, 9 if m3 and collapse_grace else 5
                elif st == 7:
                    L[i], ns = None, 8
                elif st == 6:
                    P[i], ns = HUGE, 7
                elif st == 9:
                    g = grace(5)
                    if g is False:
                        continue
                    if g is not None:
                        ns = g
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
                    check(v)
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
            stack.append((tuple(P), tuple(L), tuple(npos), tuple(R), (readers, writer, queued),
                          tuple(F), ngp))
    return res


if __name__ == "__main__":
    flags = ("--buggy", "--m2", "--m3", "--no-grace", "--no-collapse-grace")
    args = [a for a in sys.argv[1:] if a not in flags]
    if len(args) != 2 or ("--m2" in sys.argv and "--m3" in sys.argv):
        sys.exit(__doc__)
    T, N = int(args[0]), int(args[1])
    buggy = "--buggy" in sys.argv
    invalid = NONE if buggy else INVALID
    model = "m3" if "--m3" in sys.argv else "m2" if "--m2" in sys.argv else "m1"
    zap_grace = not buggy and "--no-grace" not in sys.argv
    collapse_grace = zap_grace and "--no-collapse-grace" not in sys.argv
    violations = set()
    for line in sorted(outcomes(T, N, invalid, model, zap_grace, collapse_grace, violations)):
        print(line)
    for v in sorted(violations):
        print("violated: %s" % v, file=sys.stderr)

//! Invariants declared outside the crate, as a user crate writes them: only the public API.
//! Each has a buggy variant the checker finds (the trace citing the user's own id) and a
//! fixed one it proves, and every search agrees.

use pgtable::arch::X86_64;
use pgtable::engine::explore::{Options, Search, Verdict, explore};
use pgtable::engine::invariant::Invariant;
use pgtable::engine::mm::Machine;
use pgtable::engine::program::{Program, Step, Wait};
use pgtable::engine::state::locks::MutexId;
use pgtable::engine::trace::replay;
use pgtable::engine::{Scenario, ScenarioBuilder, ScenarioError, Tid};

type A = X86_64;

/// A counter kept in ghost cell 0, incremented by each thread.
static COUNT: Invariant = Invariant::new(
    "INV-USER-COUNT",
    "Once every thread is done, the ghost counter equals the number of threads.",
);

/// Raised by a thread that reads the counter while another is mid-update.
static TORN: Invariant = Invariant::new(
    "INV-USER-TORN",
    "No thread reads the counter while another has read it and not written it back.",
);

/// Ghost cell 1 counts threads between their read and their write.
const IN_FLIGHT: usize = 1;

/// The user's own lock around the update.
const COUNTER_LOCK: MutexId = MutexId::new(0, "counter_lock");

/// `counter++` in two steps (read, then write back); with `locked`, inside the user's mutex.
struct Increment {
    locked: bool,
    check_torn: bool,
}

const LOCK: u8 = 0;
const READ: u8 = 1;
const WRITE: u8 = 2;
const UNLOCK: u8 = 3;

impl Program<A> for Increment {
    fn name(&self) -> &'static str {
        "counter++"
    }
    fn step(&self, m: &mut Machine<A>, t: Tid) -> Step {
        match m.th(t).pc {
            LOCK => {
                if self.locked && !m.mutex_lock(COUNTER_LOCK, t) {
                    return Step::Blocked(Wait::Mutex(COUNTER_LOCK));
                }
                m.goto(t, READ);
                Step::Ran("user: lock")
            }
            READ => {
                if self.check_torn && m.ghost_get(IN_FLIGHT) != 0 {
                    m.flag(
                        TORN.id(),
                        "read the counter while another update was in flight",
                    );
                }
                let v = m.ghost_get(0);
                m.th_mut(t).regs[0] = v;
                let f = m.ghost_get(IN_FLIGHT);
                m.ghost_set(IN_FLIGHT, f + 1);
                m.goto(t, WRITE);
                Step::Ran("user: read the counter")
            }
            WRITE => {
                let v = m.th(t).regs[0];
                m.ghost_set(0, v + 1);
                let f = m.ghost_get(IN_FLIGHT);
                m.ghost_set(IN_FLIGHT, f - 1);
                m.goto(t, UNLOCK);
                Step::Ran("user: write the counter back")
            }
            _ => {
                if self.locked {
                    m.mutex_unlock(COUNTER_LOCK, t);
                }
                m.th_mut(t).done = true;
                Step::Ran("user: unlock")
            }
        }
    }
}

/// The state predicate: every thread done implies a counter of 2.
fn count_is_right(m: &Machine<A>) -> Option<&'static str> {
    let done = (0..2).all(|t| m.th(Tid(t)).done);
    (done && m.ghost_get(0) != 2).then_some("both threads are done but an increment was lost")
}

fn scenario(locked: bool) -> Scenario<A> {
    ScenarioBuilder::<A>::new("user counter", 1)
        .mutex(COUNTER_LOCK)
        .state_invariant(&COUNT, count_is_right)
        .invariant(&TORN)
        .thread(
            "a",
            Increment {
                locked,
                check_torn: true,
            },
        )
        .thread(
            "b",
            Increment {
                locked,
                check_torn: true,
            },
        )
        .build()
        .unwrap()
}

fn searches() -> [Options; 3] {
    let dfs = Options {
        search: Search::DepthFirst,
        por: false,
        ..Options::default()
    };
    [
        dfs,
        Options { por: true, ..dfs },
        Options {
            search: Search::BreadthFirst,
            ..dfs
        },
    ]
}

#[test]
fn a_user_invariant_is_found_with_its_own_id_and_the_fix_holds() {
    for opts in searches() {
        let out = explore(&scenario(false), opts);
        let Verdict::Violated(cx) = out.verdict else {
            panic!("{opts:?}: the lost update was not found")
        };
        assert!(
            cx.invariant == TORN.id() || cx.invariant == COUNT.id(),
            "{opts:?}: {}",
            cx.invariant
        );
        let trace = replay(&scenario(false), &cx.schedule).unwrap();
        let text = trace.to_string();
        assert!(text.contains(cx.invariant.id()), "{text}");
        assert_eq!(
            explore(&scenario(true), opts).verdict,
            Verdict::Holds,
            "{opts:?}"
        );
    }
}

// With every violation collected, both user invariants are reported by id and statement.
#[test]
fn every_user_invariant_broken_is_reported() {
    let out = explore(
        &scenario(false),
        Options {
            stop_at_first: false,
            ..Options::default()
        },
    );
    let ids: Vec<&str> = out.violated_declared.iter().map(|v| v.id()).collect();
    assert!(
        ids.contains(&"INV-USER-COUNT") && ids.contains(&"INV-USER-TORN"),
        "{ids:?}"
    );
    assert_eq!(COUNT.id().statement(), COUNT.statement);
}

// Without the torn-read monitor only the state predicate can see the lost update: it is
// checked on every state reached, and cited by its own id and phrase.
#[test]
fn a_state_invariant_alone_is_checked_on_every_state() {
    let sc = ScenarioBuilder::<A>::new("user counter", 1)
        .state_invariant(&COUNT, count_is_right)
        .thread(
            "a",
            Increment {
                locked: false,
                check_torn: false,
            },
        )
        .thread(
            "b",
            Increment {
                locked: false,
                check_torn: false,
            },
        )
        .build()
        .unwrap();
    let out = explore(
        &sc,
        Options {
            search: Search::BreadthFirst,
            ..Options::default()
        },
    );
    let Verdict::Violated(cx) = out.verdict else {
        panic!("not found")
    };
    assert_eq!(cx.invariant, COUNT.id());
    assert_eq!(cx.what, "both threads are done but an increment was lost");
}

// A raised declared invariant the scenario did not declare does not count (as a built-in one
// outside the scenario's set does not).
#[test]
fn an_undeclared_custom_invariant_is_not_checked() {
    let sc = ScenarioBuilder::<A>::new("user counter", 1)
        .thread(
            "a",
            Increment {
                locked: false,
                check_torn: true,
            },
        )
        .thread(
            "b",
            Increment {
                locked: false,
                check_torn: true,
            },
        )
        .build()
        .unwrap();
    assert_eq!(explore(&sc, Options::default()).verdict, Verdict::Holds);
}

#[test]
fn bad_custom_ids_are_typed_errors() {
    static NO_PREFIX: Invariant = Invariant::new("USER-X", "s");
    static BUILTIN: Invariant = Invariant::new("INV-002-NEVERNONE", "s");
    let err = |inv: &'static Invariant, twice: bool| {
        let mut b = ScenarioBuilder::<A>::new("bad", 1).invariant(inv);
        if twice {
            b = b.invariant(inv);
        }
        match b
            .thread(
                "a",
                Increment {
                    locked: false,
                    check_torn: false,
                },
            )
            .build()
        {
            Ok(_) => panic!("{} was accepted", inv.id),
            Err(e) => e,
        }
    };
    let e = err(&NO_PREFIX, false);
    assert!(
        matches!(e, ScenarioError::BadInvariant { id: "USER-X", .. }),
        "{e}"
    );
    let e = err(&BUILTIN, false);
    assert!(e.to_string().contains("built-in"), "{e}");
    let e = err(&TORN, true);
    assert!(e.to_string().contains("declared twice"), "{e}");
}

/// Two user mutexes taken in opposite orders by two threads (`first` then `second`).
struct Pair {
    first: MutexId,
    second: MutexId,
}

const LOCK_A: MutexId = MutexId::new(1, "lock_a");
const LOCK_B: MutexId = MutexId::new(2, "lock_b");

impl Program<A> for Pair {
    fn name(&self) -> &'static str {
        "lock, lock, unlock, unlock"
    }
    fn step(&self, m: &mut Machine<A>, t: Tid) -> Step {
        let pc = m.th(t).pc;
        let lock = if pc == 0 { self.first } else { self.second };
        match pc {
            0 | 1 => {
                if !m.mutex_lock(lock, t) {
                    return Step::Blocked(Wait::Mutex(lock));
                }
                m.goto(t, pc + 1);
                Step::Ran("user: mutex_lock")
            }
            _ => {
                m.mutex_unlock(self.second, t);
                m.mutex_unlock(self.first, t);
                m.th_mut(t).done = true;
                Step::Ran("user: unlock both")
            }
        }
    }
}

/// A second `mutex_unlock` of a lock the thread no longer holds (a double unlock).
struct DoubleUnlock;

impl Program<A> for DoubleUnlock {
    fn name(&self) -> &'static str {
        "lock, unlock, unlock"
    }
    fn step(&self, m: &mut Machine<A>, t: Tid) -> Step {
        let pc = m.th(t).pc;
        if pc == 0 {
            if !m.mutex_lock(LOCK_A, t) {
                return Step::Blocked(Wait::Mutex(LOCK_A));
            }
            m.goto(t, 1);
            return Step::Ran("user: mutex_lock");
        }
        m.mutex_unlock(LOCK_A, t);
        m.goto(t, pc + 1);
        m.th_mut(t).done = pc == 2;
        Step::Ran("user: mutex_unlock")
    }
}

fn locks_scenario(
    first: impl Program<A> + 'static,
    second: impl Program<A> + 'static,
    set: Option<pgtable::engine::invariant::InvariantSet>,
) -> Scenario<A> {
    let b = ScenarioBuilder::<A>::new("user locks", 1)
        .mutex(LOCK_A)
        .mutex(LOCK_B)
        .thread("first", first)
        .thread("second", second);
    match set {
        Some(set) => b.invariants(set).build().unwrap(),
        None => b.build().unwrap(),
    }
}

// A scenario that asks for no invariant has every built-in one checked: a double unlock is
// INV-LOCK-BALANCE unless the scenario narrows the set. A deadlock is the search's own
// verdict, reported whatever the set, with both locks named.
#[test]
fn a_builder_checks_the_built_in_invariants_unless_told_otherwise() {
    use pgtable::engine::invariant::{InvariantId, InvariantSet};
    const AB: Pair = Pair {
        first: LOCK_A,
        second: LOCK_B,
    };
    const BA: Pair = Pair {
        first: LOCK_B,
        second: LOCK_A,
    };
    let double = |set| locks_scenario(DoubleUnlock, BA, set);
    let abba = |set| locks_scenario(AB, BA, set);
    for opts in searches() {
        let Verdict::Violated(cx) = explore(&double(None), opts).verdict else {
            panic!("{opts:?}: the double unlock was not reported");
        };
        assert_eq!(cx.invariant, InvariantId::LOCK_BALANCE, "{opts:?}");
        let sc = double(Some(InvariantSet::none()));
        assert_eq!(explore(&sc, opts).verdict, Verdict::Holds, "{opts:?}");
        for set in [None, Some(InvariantSet::none())] {
            let Verdict::Violated(cx) = explore(&abba(set), opts).verdict else {
                panic!("{opts:?} {set:?}: the deadlock was not reported");
            };
            assert_eq!(cx.invariant, InvariantId::DEADLOCK, "{opts:?}");
            let names: Vec<String> = cx.wait_for.iter().map(|l| l.to_string()).collect();
            assert!(
                names.iter().any(|n| n.contains("lock_a"))
                    && names.iter().any(|n| n.contains("lock_b")),
                "{names:?}"
            );
        }
    }
}

//! loom model tests of the concurrency core: every interleaving of the handle table (free vs
//! lookup, insert vs lookup) and of listener lifetime (remove vs running calls: destroy exactly
//! once, never while a call runs). Run with:
//!
//!     LOOM_MAX_PREEMPTIONS=6 RUSTFLAGS="--cfg loom" cargo test --release --test loom
//!
//! (`make test` does, in its own target directory; without the bound the models take minutes).
//! Disabling the last running call's destroy, for one, makes three of them fail. Under a normal build this file is empty.
#![cfg(loom)]

use loom::sync::Arc;
use loom::sync::atomic::{AtomicUsize, Ordering};
use loom::thread;
use postmessage::handles::{Handle, HandleTable};
use postmessage::listener::{Called, Listener, ListenerList, ListenerRef};
use postmessage::pm_message_event;
use std::ffi::c_void;

/// What the callbacks and destroy function record.
#[derive(Default)]
struct Probe {
    running: AtomicUsize,
    calls: AtomicUsize,
    destroys: AtomicUsize,
}

unsafe extern "C" fn on_message(_: *const pm_message_event, ud: *mut c_void) {
    // SAFETY: the models pass a Probe that outlives every call.
    let probe = unsafe { &*(ud as *const Probe) };
    probe.running.fetch_add(1, Ordering::SeqCst);
    assert_eq!(
        probe.destroys.load(Ordering::SeqCst),
        0,
        "called after destroy"
    );
    probe.calls.fetch_add(1, Ordering::SeqCst);
    probe.running.fetch_sub(1, Ordering::SeqCst);
}

unsafe extern "C" fn on_destroy(ud: *mut c_void) {
    // SAFETY: as above.
    let probe = unsafe { &*(ud as *const Probe) };
    assert_eq!(
        probe.running.load(Ordering::SeqCst),
        0,
        "destroyed while a call runs"
    );
    probe.destroys.fetch_add(1, Ordering::SeqCst);
}

fn event() -> pm_message_event {
    pm_message_event {
        data: c"".as_ptr().cast(),
        data_len: 0,
        origin: c"".as_ptr(),
        last_event_id: c"".as_ptr(),
        source: std::ptr::null_mut(),
        target: std::ptr::null_mut(),
        ports: std::ptr::null(),
        ports_len: 0,
    }
}

fn probe_listener(probe: &Arc<Probe>) -> ListenerRef {
    Listener::shared(
        on_message,
        Arc::as_ptr(probe) as *mut c_void,
        Some(on_destroy),
    )
}

#[test]
fn remove_races_a_call_destroy_once_never_during_it() {
    loom::model(|| {
        let probe = Arc::new(Probe::default());
        let listener = probe_listener(&probe);
        let caller = {
            let listener = listener.clone();
            thread::spawn(move || listener.call(&event(), None))
        };
        listener.remove();
        let called = caller.join().unwrap();
        assert_eq!(probe.destroys.load(Ordering::SeqCst), 1);
        assert_eq!(
            called == Called::Ran,
            probe.calls.load(Ordering::SeqCst) == 1
        );
        assert_eq!(
            listener.call(&event(), None),
            Called::Removed,
            "no call after removal"
        );
        drop(probe);
    });
}

#[test]
fn plain_listener_is_not_called_after_removal() {
    // No destroy function: calls are not counted, only the removed flag guards them.
    loom::model(|| {
        let probe = Arc::new(Probe::default());
        let listener = Listener::shared(on_message, Arc::as_ptr(&probe) as *mut c_void, None);
        let caller = {
            let listener = listener.clone();
            thread::spawn(move || listener.call(&event(), None))
        };
        listener.remove();
        assert_eq!(
            listener.call(&event(), None),
            Called::Removed,
            "no call after removal"
        );
        let called = caller.join().unwrap();
        assert_eq!(
            called == Called::Ran,
            probe.calls.load(Ordering::SeqCst) == 1
        );
        drop(probe);
    });
}

#[test]
fn two_callers_and_a_remover() {
    loom::model(|| {
        let probe = Arc::new(Probe::default());
        let listener = probe_listener(&probe);
        let callers: Vec<_> = (0..2)
            .map(|_| {
                let listener = listener.clone();
                thread::spawn(move || {
                    listener.call(&event(), None);
                })
            })
            .collect();
        listener.remove();
        for c in callers {
            c.join().unwrap();
        }
        assert_eq!(probe.destroys.load(Ordering::SeqCst), 1);
        drop(probe);
    });
}

#[test]
fn snapshot_dispatch_skips_listeners_removed_meanwhile() {
    loom::model(|| {
        let first = Arc::new(Probe::default());
        let second = Arc::new(Probe::default());
        let list = Arc::new(loom::sync::Mutex::new(ListenerList::default()));
        let (a, b) = (probe_listener(&first), probe_listener(&second));
        let b_id = b.id();
        list.lock().unwrap().push(a);
        list.lock().unwrap().push(b);
        let dispatcher = {
            let list = list.clone();
            thread::spawn(move || {
                let snapshot = list.lock().unwrap().snapshot();
                for l in snapshot.iter() {
                    l.call(&event(), None);
                }
            })
        };
        let removed = list.lock().unwrap().take(b_id).expect("present");
        removed.remove();
        // After remove() returns, the listener never starts another call.
        let calls_at_removal = second.calls.load(Ordering::SeqCst);
        dispatcher.join().unwrap();
        assert!(second.calls.load(Ordering::SeqCst) <= 1);
        assert_eq!(second.destroys.load(Ordering::SeqCst), 1);
        assert!(second.calls.load(Ordering::SeqCst) >= calls_at_removal);
        assert_eq!(first.calls.load(Ordering::SeqCst), 1);
    });
}

/// A value whose drop is observable, to catch a lookup that sees freed state.
struct Tracked(Arc<AtomicUsize>);

impl Drop for Tracked {
    fn drop(&mut self) {
        self.0.store(1, Ordering::SeqCst);
    }
}

#[test]
fn lookup_races_remove() {
    loom::model(|| {
        let table: Arc<HandleTable<Tracked>> = Arc::new(HandleTable::new(5));
        let dropped = Arc::new(AtomicUsize::new(0));
        let h = table.insert_with(|_| Tracked(dropped.clone()));
        let reader = {
            let (table, dropped) = (table.clone(), dropped.clone());
            thread::spawn(move || {
                table.with(h, |_| {
                    assert_eq!(dropped.load(Ordering::SeqCst), 0, "saw a freed value");
                })
            })
        };
        let removed = table.remove(h);
        assert!(removed.is_some());
        drop(removed);
        reader.join().unwrap();
        assert!(
            table.with(h, |_| ()).is_none(),
            "a freed handle is rejected"
        );
        assert!(table.remove(h).is_none(), "double free is rejected");
    });
}

#[test]
fn lookup_races_first_insert() {
    loom::model(|| {
        let table: Arc<HandleTable<u32>> = Arc::new(HandleTable::new(6));
        // The handle the first insert will get: tag 6, generation 0, index 0.
        let forged = Handle::from_raw((6usize << 60) | 1).unwrap();
        let reader = {
            let table = table.clone();
            thread::spawn(move || table.with(forged, |v| *v))
        };
        let h = table.insert_with(|_| 42);
        assert_eq!(h, forged);
        let seen = reader.join().unwrap();
        assert!(seen.is_none() || seen == Some(42));
    });
}

/// The protocol of the per-thread caches (window snapshots, and the SYNC port and broadcast
/// views, whose versions follow the same rules): a value read together with its version under
/// the lock is current while the version is; a change made under the lock bumps the version
/// before unlocking. So once a writer has finished, a reader whose version still matches must
/// have read the written value; a stale read must show a changed version.
#[test]
fn a_versioned_read_is_stale_exactly_when_the_version_moved() {
    loom::model(|| {
        let table: Arc<HandleTable<u32>> = Arc::new(HandleTable::new(7));
        let h = table.insert_with(|_| 0);
        let writer = {
            let table = table.clone();
            thread::spawn(move || table.with_mut(h, |v| *v = 1))
        };
        let (version, cell, seen) = table.with_versioned(h, |v| *v).unwrap();
        writer.join().unwrap();
        let current = cell.load(Ordering::Acquire) == version;
        assert_eq!(
            current,
            seen == 1,
            "a matching version must mean the read saw the change, and only then"
        );
    });
}

/// The queued paths' use of a window slot: posters push under `with_mut_unversioned` (the
/// fast enqueue), the owner thread pops under it (`run_pending`) and checks its cached snapshot
/// with the slot's version, while another thread changes what snapshots hold (`with_mut`, as
/// adding a listener does). Nothing is lost or reordered, queue traffic never moves the
/// version (so cached snapshots stay warm), and a change always does (so none stays stale).
#[test]
fn queue_traffic_leaves_the_version_and_changes_move_it() {
    use std::collections::VecDeque;
    loom::model(|| {
        let table: Arc<HandleTable<(VecDeque<u32>, u32)>> = Arc::new(HandleTable::new(7));
        let w = table.insert_with(|_| (VecDeque::new(), 0));
        let (v0, _, ()) = table.with_versioned(w, |_| ()).unwrap();
        let poster = {
            let table = table.clone();
            thread::spawn(move || {
                for i in 1..=2 {
                    table
                        .with_mut_unversioned(w, |(q, _)| q.push_back(i))
                        .unwrap();
                }
            })
        };
        let changer = {
            let table = table.clone();
            thread::spawn(move || table.with_mut(w, |(_, listeners)| *listeners += 1).unwrap())
        };
        let mut seen = Vec::new();
        for _ in 0..2 {
            if let Some(i) = table
                .with_mut_unversioned(w, |(q, _)| q.pop_front())
                .unwrap()
            {
                seen.push(i);
            }
        }
        poster.join().unwrap();
        changer.join().unwrap();
        let (v1, _, (rest, listeners)) = table
            .with_versioned(w, |(q, l)| (q.iter().copied().collect::<Vec<_>>(), *l))
            .unwrap();
        seen.extend(rest);
        assert_eq!(seen, [1, 2], "every entry once, in order");
        assert_eq!(listeners, 1);
        assert_eq!(v1, v0 + 1, "only the change moved the version");
    });
}

/// The QUEUED port post from a cached view (`port::queue_cached`) against a port starting:
/// the view is taken under the port's lock only when the port is started and not draining, a
/// post through it pushes straight into the window's queue (`with_mut_unversioned`), and the
/// first listener's start (`started`, `draining`, a version bump) then drains the messages
/// that waited in the port's `pending` into the queue outside the lock, clearing `draining`
/// (another bump) only once `pending` is empty under the lock. Whatever the interleaving, a
/// post never overtakes a message that waited: the queue ends in posting order. (A view taken
/// while the port drains, or one not checked against the version, fails this.)
#[test]
fn a_cached_queued_port_post_never_overtakes_waiting_messages() {
    use loom::sync::Mutex;
    use loom::sync::atomic::AtomicU64;
    use std::collections::VecDeque;

    struct PortState {
        started: bool,
        draining: bool,
        pending: Vec<u32>,
    }
    struct Port {
        state: Mutex<PortState>,
        version: AtomicU64,
    }
    loom::model(|| {
        // Message 0 waits in the port, posted before it started.
        let port = Arc::new(Port {
            state: Mutex::new(PortState {
                started: false,
                draining: false,
                pending: vec![0],
            }),
            version: AtomicU64::new(0),
        });
        let table: Arc<HandleTable<VecDeque<u32>>> = Arc::new(HandleTable::new(7));
        let w = table.insert_with(|_| VecDeque::new());
        let push = move |table: &HandleTable<VecDeque<u32>>, m: u32| {
            table
                .with_mut_unversioned(w, |q| q.push_back(m))
                .expect("live");
        };
        let starter = {
            let (port, table) = (port.clone(), table.clone());
            thread::spawn(move || {
                {
                    let mut s = port.state.lock().unwrap();
                    s.started = true;
                    s.draining = true;
                    port.version.fetch_add(1, Ordering::Release);
                }
                loop {
                    let batch = {
                        let mut s = port.state.lock().unwrap();
                        if s.pending.is_empty() {
                            s.draining = false;
                            port.version.fetch_add(1, Ordering::Release);
                            break;
                        }
                        std::mem::take(&mut s.pending)
                    };
                    for m in batch {
                        push(&table, m);
                    }
                }
            })
        };
        let poster = {
            let (port, table) = (port.clone(), table.clone());
            thread::spawn(move || {
                // The version at which this thread saw the port open, started, not draining.
                let mut view: Option<u64> = None;
                for m in 1..=2 {
                    if view.is_some_and(|v| port.version.load(Ordering::Acquire) == v) {
                        push(&table, m);
                        continue;
                    }
                    let mut s = port.state.lock().unwrap();
                    if s.started && !s.draining {
                        view = Some(port.version.load(Ordering::Relaxed));
                        drop(s);
                        push(&table, m);
                    } else {
                        s.pending.push(m);
                    }
                }
            })
        };
        starter.join().unwrap();
        poster.join().unwrap();
        assert!(port.state.lock().unwrap().pending.is_empty());
        let queue: Vec<u32> = table
            .with(w, |q| q.iter().copied().collect())
            .expect("live");
        assert_eq!(queue, [0, 1, 2], "every message once, in posting order");
    });
}

/// `run_pending` finds the window's slot once (`HandleTable::slot_of`) and locks it again per
/// entry without the lookup, while another thread may free the window. Each locked step must
/// agree with the table: it reaches the object while the handle is live and never after the
/// free, and every entry pushed before the free is either popped or still in the removed value.
#[test]
fn a_slot_found_once_sees_a_free_like_a_lookup() {
    use std::collections::VecDeque;
    loom::model(|| {
        let table: Arc<HandleTable<VecDeque<u32>>> = Arc::new(HandleTable::new(7));
        let w = table.insert_with(|_| VecDeque::from([1, 2]));
        let slot = table.slot_of(w).unwrap();
        let freer = {
            let table = table.clone();
            thread::spawn(move || table.remove(w))
        };
        let mut popped = Vec::new();
        let mut gone = false;
        for _ in 0..3 {
            match slot.with_mut_unversioned(w, |q| q.pop_front()) {
                Some(Some(i)) => popped.push(i),
                Some(None) => {}
                None => {
                    gone = true;
                    break;
                }
            }
        }
        let removed = freer.join().unwrap().expect("the window was live");
        assert!(
            slot.with_mut_unversioned(w, |_| ()).is_none(),
            "a freed handle is refused"
        );
        if !gone {
            assert_eq!(popped, [1, 2], "the free came after every pop");
        }
        popped.extend(removed);
        assert_eq!(popped, [1, 2], "every entry once, in order");
    });
}

/// The drain's memo (`queue::Memo`): a receiver's listener snapshot read under its lock with
/// its version, reused for the next message while the version is unchanged. A change made
/// under the lock bumps the version before unlocking (a port's `change()`), so once a change
/// has finished before the next message is delivered, the memo must not be used; and when the
/// memo is used, the snapshot it holds is the current one.
#[test]
fn a_remembered_snapshot_is_used_only_while_its_version_stays() {
    use loom::sync::Mutex;
    use loom::sync::atomic::AtomicU64;
    loom::model(|| {
        // (listeners, closed) under the lock; the version beside it.
        let state = Arc::new((Mutex::new((1u32, false)), AtomicU64::new(0)));
        let done = Arc::new(AtomicUsize::new(0));
        let memo = {
            let guard = state.0.lock().unwrap();
            (*guard, state.1.load(Ordering::Relaxed))
        };
        let changer = {
            let (state, done) = (state.clone(), done.clone());
            thread::spawn(move || {
                {
                    let mut guard = state.0.lock().unwrap();
                    *guard = (2, true);
                    state.1.fetch_add(1, Ordering::Release);
                }
                done.store(1, Ordering::Release);
            })
        };
        let finished = done.load(Ordering::Acquire) == 1;
        let used = state.1.load(Ordering::Acquire) == memo.1;
        let delivered_with = if used {
            memo.0
        } else {
            *state.0.lock().unwrap()
        };
        changer.join().unwrap();
        if finished {
            assert!(!used, "a finished change must be seen");
            assert_eq!(delivered_with, (2, true));
        }
        if used {
            assert_eq!(
                delivered_with,
                (1, false),
                "the memo is the state it was read with"
            );
        }
    });
}

/// The port transfer protocol (`port::detach` against `port::queue_cached`/`post_queued`): a
/// port started in a QUEUED window has message 0 queued there; one thread posts 1 and 2 to it
/// (through a cached view, re-checked under the window's lock, else under the port's lock)
/// while another transfers it (under the port's lock: no owner, version bumped, its entries
/// taken out of the window's queue and put in front of its own). Every interleaving ends with
/// nothing of the port's left in the window and 0, 1, 2 waiting in the port, in order.
#[test]
fn a_transfer_takes_every_racing_queued_post_along_in_order() {
    use loom::sync::Mutex;
    use loom::sync::atomic::AtomicU64;
    use std::collections::VecDeque;

    struct PortState {
        owned: bool,
        pending: VecDeque<u32>,
        /// Where a message that was on its way out when the port moved goes.
        cut: usize,
    }
    struct Port {
        state: Mutex<PortState>,
        version: AtomicU64,
    }
    loom::model(|| {
        let port = Arc::new(Port {
            state: Mutex::new(PortState {
                owned: true,
                pending: VecDeque::new(),
                cut: 0,
            }),
            version: AtomicU64::new(0),
        });
        let table: Arc<HandleTable<VecDeque<u32>>> = Arc::new(HandleTable::new(7));
        let w = table.insert_with(|_| VecDeque::from([0]));
        // `window::enqueue_if`: pushed only if the port is still at version `v`.
        let push_if = move |table: &HandleTable<VecDeque<u32>>, port: &Port, v: u64, m: u32| {
            table
                .with_mut_unversioned(w, |q| {
                    let valid = port.version.load(Ordering::Acquire) == v;
                    if valid {
                        q.push_back(m);
                    }
                    valid
                })
                .expect("live")
        };
        let poster = {
            let (port, table) = (port.clone(), table.clone());
            thread::spawn(move || {
                // The cached view: the port was owned and started at version 0.
                let mut view = Some(0);
                for m in 1..=2 {
                    if let Some(v) = view
                        && port.version.load(Ordering::Acquire) == v
                        && push_if(&table, &port, v, m)
                    {
                        continue;
                    }
                    view = None;
                    // The checked path, deciding again until the message is placed.
                    let mut moved = false;
                    loop {
                        let v = {
                            let mut s = port.state.lock().unwrap();
                            if !s.owned {
                                if moved {
                                    let at = s.cut.min(s.pending.len());
                                    s.pending.insert(at, m);
                                    s.cut = at + 1;
                                } else {
                                    s.pending.push_back(m);
                                }
                                break;
                            }
                            port.version.load(Ordering::Relaxed)
                        };
                        if push_if(&table, &port, v, m) {
                            break;
                        }
                        moved = true;
                    }
                }
            })
        };
        let transferer = {
            let (port, table) = (port.clone(), table.clone());
            thread::spawn(move || {
                let mut s = port.state.lock().unwrap();
                s.owned = false;
                port.version.fetch_add(1, Ordering::Release);
                let taken: Vec<u32> = table
                    .with_mut_unversioned(w, |q| q.drain(..).collect())
                    .expect("live");
                s.cut = taken.len();
                for m in taken.into_iter().rev() {
                    s.pending.push_front(m);
                }
            })
        };
        poster.join().unwrap();
        transferer.join().unwrap();
        let queue: Vec<u32> = table
            .with(w, |q| q.iter().copied().collect())
            .expect("live");
        assert!(queue.is_empty(), "nothing left behind in the old window");
        let pending: Vec<u32> = port.state.lock().unwrap().pending.iter().copied().collect();
        assert_eq!(pending, [0, 1, 2], "every message once, in posting order");
    });
}

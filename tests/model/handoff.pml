/*
 * handoff.pml: a Promela model of the WorkerPool handoff protocol
 * (core/include/spill/handoff.hpp and worker_pool.hpp), checked with spin.
 *
 * What is modelled
 *   - W workers, each with three rings (global ids w*3+1 .. w*3+3), a slot
 *     word and a batch_seq, a go/done signal pair.
 *   - The slot word is ONE variable holding ring*2 + FRESH (a published
 *     batch), ring*2 (a recycled empty ring) or 0 (the worker took its fresh
 *     batch back to merge into it), exactly as HandoffSlot::word.
 *   - The owner: dispatch (go), optional streaming collection while the round
 *     runs, join (done), a final collection, shutdown.
 *   - Collectors: with M == 1 the owner itself collects (pool.collect /
 *     collect_ordered, FanInSpout); with M > 1, M merger processes each own
 *     the slots j, j+M, ... (split_mergers) and poll until the owner stops
 *     them, then collect once more.
 *   - -DORDERED selects collect_ordered_slots (refresh_front, the `complete`
 *     and `next_round` watermark, sequence numbers (r-1)*W + w); otherwise
 *     collect_slots.
 *   - Items are counters per (ring, round): a ring's items are always in
 *     round order (a round's items are appended after every older round's),
 *     so the SegmentLog of the C++ is abstracted to "the round of each item"
 *     (its own bookkeeping is covered by the unit and fuzz tests). A task
 *     pushes 0..MAXPUSH items; a task that throws is a task that pushed fewer
 *     (the C++ publishes what was pushed either way). A full ring evicts its
 *     oldest item into the worker's overflow counter.
 *
 * Step labels match the comment in handoff.hpp:
 *   pub_load (P1), pub_reclaim (P2), pub_store (P3), pub_seq (P4),
 *   col_seq (C1), col_load (C2), col_take (C3);
 *   evict_load (P1) and evict_reclaim (P2) at the round's first eviction
 *   (WorkerPool::on_first_eviction: the uncollected batch is taken back and
 *   spilled into the overflow before any newer item; `emp` is Worker::emptied);
 * and worker_pool.hpp's go/done pairs: own_go (A), wrk_go (B),
 *   wrk_done (C), own_done (D).
 * A statement that is one atomic operation in C++ is one Promela step; purely
 * thread-local work next to it (updating `active`/`front`, draining a ring
 * the thread owns) is folded into the same atomic block, which is sound
 * because no other process can observe it.
 *
 * Memory model: spin explores interleavings of a SEQUENTIALLY CONSISTENT
 * machine. The model checks the protocol logic (who owns which ring when,
 * what the watermark may conclude), not the C++ memory orders. The C++ relies
 * on these release/acquire pairs, argued in its comments and exercised under
 * ThreadSanitizer by tests/model/stress_pool.cpp:
 *   P3 release  -> C2/C3 acquire   the items written into a published ring
 *   C3 release  -> P1/P2 acquire   the collector's drain of the ring it recycles
 *   P4 release  -> C1 acquire      batch_seq == r implies the word of round r's
 *                                  publish (P3 happens-before P4) is visible
 *                                  to C2, which is after C1 in program order
 *   A  release  -> B  acquire      round arguments
 *   C  release  -> D  acquire      worker stats, error, and P3/P4 of the round
 * The orderings that the protocol logic itself depends on are modelled as
 * planted bugs that reorder the steps (what a weakened order would permit on
 * real hardware), and spin must find a violation for each:
 *   PLANTED_BUG 1  collector takes with load + plain store instead of the CAS
 *   PLANTED_BUG 2  worker stores batch_seq before the word (P4 relaxed / before P3)
 *   PLANTED_BUG 3  collector loads the word before batch_seq (C1 not acquire)
 *   PLANTED_BUG 4  worker reclaims with load + plain store instead of the CAS
 *   PLANTED_BUG 5  no spill at the round's first eviction (the pool before
 *                  commit a4725d0): the overflow stream leaves push order
 *
 * Properties (assertions; spin -a, pan with safety and end-state checks):
 *   ownership   each ring has exactly one holder in every state: the worker's
 *               active ring, the worker's reclaimed ring (merge back), the
 *               collector's front, or the slot word (checked after every step
 *               that moves a ring, the only steps that change a holder)
 *   access      every read or write of a ring is by its exclusive holder (no
 *               access after recycle, none before take)
 *   FIFO        each worker's delivered items arrive in round order, and so
 *               do its overflowed items
 *   watermark   (ORDERED) a (round, worker) batch is emitted only after the
 *               worker finished that round and every non-overflowed item of it
 *               is in the collector's front; sequence numbers are emitted in
 *               increasing order per collector
 *   conservation after the final collect: produced == delivered + overflowed,
 *               for each (worker, round); no ring holds anything
 *   termination no invalid end state (deadlock); the LTL formula `finish`
 *               (<> finished) checked with weak fairness (-DLIVENESS build:
 *               pan -a -f) shows the run always completes
 *
 * Parameters (spin -D...): W workers, M collectors (1: the owner; >1:
 * mergers), R rounds, CAP ring capacity, MAXPUSH items per task, MAXCOLLECT
 * streaming collects per round, ORDERED, PLANTED_BUG, LIVENESS. run_spin.sh
 * runs the configurations registered with meson:
 *     spin -a -DR=2 -DM=2 handoff.pml
 *     gcc -O2 -DSAFETY -DCOLLAPSE -o pan pan.c && ./pan -m1000000
 * (-DSAFETY + assertions + invalid end states; liveness: gcc without
 * -DSAFETY, ./pan -a -f -N finish).
 */

#ifndef W
#define W 2
#endif
#ifndef M
#define M 1
#endif
#ifndef R
#define R 3
#endif
#ifndef CAP
#define CAP 2
#endif
#ifndef MAXPUSH
#define MAXPUSH 2
#endif
#ifndef PLANTED_BUG
#define PLANTED_BUG 0
#endif

#define NRINGS      (3 * W)
#define SHUTDOWN    255
#define IS_FRESH(x) (((x) % 2) == 1)
#define RING(x)     ((x) / 2)
#define FRESH_OF(g) ((g) * 2 + 1)
#define RECY_OF(g)  ((g) * 2)
#define CNT(g, r)   cnt[(g) * (R + 1) + (r)]
#define WR(w, r)    ((w) * (R + 1) + (r))

byte word[W];        /* HandoffSlot::word */
byte batch_seq[W];   /* HandoffSlot::batch_seq */
byte go[W];          /* WorkerSignal::go */
byte done[W];        /* WorkerSignal::done */

byte act[W];         /* worker-owned: Worker::active */
byte hold[W];        /* worker-owned: the ring reclaimed at P2, until P3 */
byte emp[W];         /* worker-owned: Worker::emptied, the batch spilled at the
                        round's first eviction (word is 0 until P3) */
byte front[W];       /* collector-owned: Worker::front */
byte complete[W];    /* collector-owned (ordered path) */
byte next_round[W];  /* collector-owned (ordered path) */

byte cnt[(NRINGS + 1) * (R + 1)];   /* items per (ring, round) */

/* ghost accounting */
byte produced[W * (R + 1)];
byte delivered[W * (R + 1)];
byte overflowed[W * (R + 1)];
byte task_done[W];       /* last round whose task finished on worker w */
byte last_delivered[W];  /* round of worker w's last delivered item (FIFO) */
byte last_overflowed[W]; /* round of worker w's last overflowed item (FIFO) */
short last_seq[M];       /* last sequence number collector j emitted */
bool stop_mergers;
byte mergers_done;
byte workers_exited;
bool finished;

/* ---- helpers ------------------------------------------------------------
 * Scratch variables (_q, _n, _o, _k, _g) are reset to 0 after use so that
 * they do not split otherwise equal states. */

/* Ownership: each of worker w's three rings has exactly one holder. Only the
 * atomic steps that move a ring (pub_reclaim, pub_store, col_take) change a
 * holder, so checking after each of them (and initially) checks every state. */
inline check_ownership(w) {
    for (_k : 1 .. 3) {
        _g = w * 3 + _k;
        _n = (act[w] == _g) + (hold[w] == _g) + (emp[w] == _g) + (front[w] == _g) + (RING(word[w]) == _g);
        assert(_n == 1)
    };
    _k = 0; _g = 0; _n = 0
}

/* Access checks: a ring is read or written only by its exclusive holder. */
inline worker_holds(w, g) {
    assert(g != 0 && (act[w] == g || hold[w] == g || emp[w] == g) && front[w] != g && RING(word[w]) != g)
}
inline collector_holds(w, g) {
    assert(g != 0 && front[w] == g && act[w] != g && hold[w] != g && emp[w] != g && RING(word[w]) != g)
}

inline ring_size(g, n) {
    n = 0;
    for (_q : 1 .. R) { n = n + CNT(g, _q) };
    _q = 0
}
inline max_round(g, out) {
    out = 0;
    for (_q : 1 .. R) { if :: CNT(g, _q) > 0 -> out = _q :: else fi };
    _q = 0
}

/* Worker w pushes one item of round r into ring g (its active or reclaimed
 * ring); a full ring first evicts its oldest item into the overflow. */
inline push_item(w, g, r) {
    worker_holds(w, g);
    ring_size(g, _n);
    if
    :: _n == CAP ->
        _o = 1;
        do
        :: CNT(g, _o) > 0 -> break
        :: else -> _o++
        od;
        CNT(g, _o)--;
        assert(_o >= last_overflowed[w]);   /* the overflow stream is in push order */
        last_overflowed[w] = _o;
        overflowed[WR(w, _o)]++
    :: else
    fi;
    CNT(g, r)++;
    _n = 0; _o = 0
}

/* The collector delivers every item of its front ring g, oldest first. */
inline drain_front(w, g) {
    collector_holds(w, g);
    for (_q : 1 .. R) {
        if
        :: CNT(g, _q) > 0 ->
            assert(_q >= last_delivered[w]);   /* per-worker FIFO */
            last_delivered[w] = _q;
            delivered[WR(w, _q)] = delivered[WR(w, _q)] + CNT(g, _q);
            CNT(g, _q) = 0
        :: else
        fi
    };
    _q = 0
}

/* ---- worker --------------------------------------------------------------- */

proctype Worker(byte w) {
    byte seen = 0, started = 0, round, k, cur, _q, _n, _o, _k, _g;
    bool merged;
    do
    :: true ->
        /* A round already dispatched (the owner runs up to two ahead) starts
         * at once; otherwise wait for the next one. */
        if
        :: started == seen ->
wrk_go: end_idle:
            atomic { (go[w] != seen); seen = go[w] }   /* (B) acquire; blocks (futex) */
        :: else
        fi;
        atomic {
            if
            :: seen == SHUTDOWN -> break
            :: else
            fi;
            started++;
            round = started;                        /* rounds run one after another, in order */
            /* the task: 0..MAXPUSH pushes (a throwing task pushed fewer) */
            if
            :: k = 0
            :: k = 1
            :: MAXPUSH >= 2 -> k = 2
            :: MAXPUSH >= 3 -> k = 3
            fi;
            /* the pushes that fit (the active ring starts every round empty) */
            do
            :: k > 0 ->
                ring_size(act[w], _n);
                if
                :: _n < CAP -> push_item(w, act[w], round); produced[WR(w, round)]++; k--
                :: else -> break
                fi
            :: else -> break
            od;
            _n = 0
        }
        if
        :: k > 0 ->
            /* the next push evicts: on_first_eviction takes the uncollected
             * batch back and spills it before any newer item overflows */
evict_load: cur = word[w];                          /* (P1) acquire */
            if
            :: IS_FRESH(cur) && PLANTED_BUG != 5 ->     /* BUG 5: never spill (merge back only) */
evict_reclaim:  atomic {                            /* (P2) CAS FRESH -> 0, acq_rel */
                    if
                    :: word[w] == cur ->
                        word[w] = 0;
                        emp[w] = RING(cur);
                        check_ownership(w);
                        worker_holds(w, emp[w]);
                        for (_k : 1 .. R) {         /* drain into the overflow, oldest first */
                            if
                            :: CNT(emp[w], _k) > 0 ->
                                assert(_k >= last_overflowed[w]);
                                last_overflowed[w] = _k;
                                overflowed[WR(w, _k)] = overflowed[WR(w, _k)] + CNT(emp[w], _k);
                                CNT(emp[w], _k) = 0
                            :: else
                            fi
                        };
                        _k = 0
                    :: else                         /* the collector took it: nothing to spill */
                    fi
                }
            :: else
            fi;
            atomic {
                cur = 0;
                do
                :: k > 0 -> push_item(w, act[w], round); produced[WR(w, round)]++; k--
                :: else -> break
                od
            }
        :: else
        fi;
        atomic { task_done[w] = round; ring_size(act[w], _n) }
        /* publish(w, round): only a non-empty ring is published */
        assert(emp[w] == 0 || _n > 0);
        if
        :: _n > 0 ->
            _n = 0;
#if PLANTED_BUG == 2
            batch_seq[w] = round;                   /* BUG: P4 before P3 */
#endif
            if
            :: emp[w] != 0                          /* word is 0: straight to P3 */
            :: else ->
pub_load:   cur = word[w];                          /* (P1) acquire */
            if
            :: IS_FRESH(cur) ->
#if PLANTED_BUG == 4
pub_reclaim:    word[w] = 0;                        /* BUG: plain store instead of the CAS */
                atomic { hold[w] = RING(cur); merged = true }
#else
pub_reclaim:    atomic {                            /* (P2) CAS FRESH -> 0, acq_rel */
                    if
                    :: word[w] == cur -> word[w] = 0; hold[w] = RING(cur); merged = true
                    :: else -> cur = word[w]        /* failure returns the current value */
                    fi;
                    check_ownership(w)
                }
#endif
                if
                :: merged ->
                    /* merge_back: the new items go behind the old ones, the
                     * oldest evicting into the overflow when the ring fills */
                    d_step {
                        worker_holds(w, act[w]);
                        for (_k : 1 .. R) {
                            do
                            :: CNT(act[w], _k) > 0 ->
                                CNT(act[w], _k)--;
                                push_item(w, hold[w], _k)
                            :: else -> break
                            od
                        };
                        _k = 0
                    }
                :: else
                fi
            :: else
            fi
            fi;
pub_store:  atomic {                                /* (P3) release */
                if
                :: emp[w] != 0 ->
                    /* the first eviction spilled the old batch: only the
                     * worker changes a 0 word (H2); the emptied ring is next */
                    assert(word[w] == 0);
                    word[w] = FRESH_OF(act[w]);
                    act[w] = emp[w];
                    emp[w] = 0
                :: emp[w] == 0 && merged -> word[w] = FRESH_OF(hold[w]); hold[w] = 0
                :: emp[w] == 0 && !merged ->
                    /* H2: the word is a recycled ring, and only the worker
                     * changes a non-FRESH word, so a plain store cannot race */
                    assert(!IS_FRESH(cur) && cur != 0);
                    word[w] = FRESH_OF(act[w]);
                    act[w] = RING(cur)
                fi;
                check_ownership(w);
                worker_holds(w, act[w]);
                ring_size(act[w], _n);
                assert(_n == 0);                    /* the next active ring is empty */
                cur = 0; merged = false
            }
        :: else
        fi;
#if PLANTED_BUG == 2
        skip;
#else
pub_seq: batch_seq[w] = round;                      /* (P4) release */
#endif
wrk_done: done[w] = round                           /* (C) release */
    od;
    workers_exited++
}

/* ---- collectors ------------------------------------------------------------ */

/* collect_slots(first, stride = M): the unordered path. */
inline collect_slots(first_slot) {
    w = first_slot;
    do
    :: w < W ->
col_load: atomic {
            drain_front(w, front[w]);               /* older items first */
            cur = word[w]                           /* (C2) acquire */
        }
#if PLANTED_BUG == 1
col_take: if                                        /* BUG: plain store instead of the CAS */
        :: IS_FRESH(cur) -> word[w] = RECY_OF(front[w])
        :: else
        fi;
        atomic {
            if
            :: IS_FRESH(cur) -> front[w] = RING(cur); drain_front(w, front[w])
            :: else
            fi;
            cur = 0; w = w + M
        }
#else
col_take: atomic {                                  /* (C3) CAS FRESH -> front, acq_rel */
            if
            :: IS_FRESH(cur) && word[w] == cur ->
                word[w] = RECY_OF(front[w]);
                front[w] = RING(cur);
                check_ownership(w);
                drain_front(w, front[w])
            :: else                                 /* nothing published, or lost to a merge back (the code
                                                       waits for that merge and tries once more: the same
                                                       steps as the next take here) */
            fi;
            cur = 0; w = w + M
        }
#endif
    :: else -> break
    od;
    w = 0
}

/* refresh_front(w): the ordered path's take and watermark (sets `progress`). */
inline refresh_front(w) {
    before = complete[w];   /* (a label cannot start an inline) */
#if PLANTED_BUG == 3
col_load: cur = word[w];                            /* BUG: C2 before C1 (C1 not acquire) */
col_seq:  published = batch_seq[w];
    atomic {
#else
col_seq:  published = batch_seq[w];                 /* (C1) acquire */
col_load: atomic {
        cur = word[w];                              /* (C2) acquire */
#endif
        collector_holds(w, front[w]);
        ring_size(front[w], _n);
        if
        :: IS_FRESH(cur) && _n == 0 -> took = true
        :: else -> took = false
        fi;
        _n = 0
    }
    if
    :: took ->
col_take: atomic {                                  /* (C3) CAS FRESH -> front, acq_rel */
            if
            :: word[w] == cur -> word[w] = RECY_OF(front[w]); front[w] = RING(cur); check_ownership(w)
            :: else -> took = false
            fi
        }
    :: else
    fi;
    d_step {
        if
        :: took ->
            /* the taken ring holds every item of rounds <= published not
             * already delivered, and whole rounds up to its newest */
            if :: published > complete[w] -> complete[w] = published :: else fi
        :: !took && !IS_FRESH(cur) && cur != 0 ->
            /* nothing pending: rounds <= published are in front or delivered */
            if :: published > complete[w] -> complete[w] = published :: else fi
        :: else
        fi;
        /* a round is never split across batches: the newest round in the
         * front is complete whatever the word says */
        max_round(front[w], mr);
        if :: mr > complete[w] -> complete[w] = mr :: else fi;
        if :: complete[w] != before -> progress = true :: else fi;
        mr = 0; before = 0; published = 0; cur = 0; took = false
    }
}

/* collect_ordered_slots(first, stride = M) of collector j. */
inline collect_ordered_slots(first_slot, coll) {
    progress = true;
    do
    :: progress ->
        atomic { progress = false; watermark = 255; lowest = 255; w = first_slot }
        do
        :: w < W ->
            refresh_front(w);
            d_step {
                if :: complete[w] < watermark -> watermark = complete[w] :: else fi;
                if :: next_round[w] < lowest -> lowest = next_round[w] :: else fi;
                w = w + M
            };
            skip
        :: else -> break
        od;
        skip;
        /* emit every round <= watermark, worker by worker within a round
         * (collector-local work: one step) */
        d_step {
            r = lowest;
            do
            :: r <= watermark ->
                w = first_slot;
                do
                :: w < W ->
                    if
                    :: next_round[w] == r ->
                        collector_holds(w, front[w]);
                        /* watermark: the worker finished round r, and every
                         * item of it that did not overflow is in the front */
                        assert(task_done[w] >= r);
                        assert(produced[WR(w, r)] == delivered[WR(w, r)] + overflowed[WR(w, r)] + CNT(front[w], r));
                        /* nothing older is stranded in the front */
                        for (_q : 1 .. r - 1) { assert(CNT(front[w], _q) == 0) };
                        _q = 0;
                        /* sequence (r - 1) * W + w, increasing per collector */
                        assert((r - 1) * W + w > last_seq[coll]);
                        last_seq[coll] = (r - 1) * W + w;
                        delivered[WR(w, r)] = delivered[WR(w, r)] + CNT(front[w], r);
                        CNT(front[w], r) = 0;
                        next_round[w]++;
                        progress = true
                    :: else
                    fi;
                    w = w + M
                :: else -> break
                od;
                r++
            :: else -> break
            od;
            r = 0; w = 0; watermark = 0; lowest = 0
        };
        skip
    :: else -> break
    od
}

inline collect(first_slot_, coll_) {
#ifdef ORDERED
    collect_ordered_slots(first_slot_, coll_)
#else
    collect_slots(first_slot_)
#endif
}

/* ---- owner and mergers ----------------------------------------------------- */

inline final_checks() {
    d_step {
        for (w : 0 .. W - 1) {
            for (r : 1 .. R) {
                assert(produced[WR(w, r)] == delivered[WR(w, r)] + overflowed[WR(w, r)])
            };
            for (_k : 1 .. 3) {
                ring_size(w * 3 + _k, _n);
                assert(_n == 0)
            }
        };
        w = 0; r = 0; _k = 0; _n = 0
    }
}

#if M > 1
/* A MergerHandle driven by its own thread: polls until told to stop, then
 * collects once more (everything is published by then). */
proctype Merger(byte j) {
    byte w, r, cur, published, before, mr, watermark, lowest, _q, _n, _o, _k, _g;
    bool took, progress, last;
end_poll:
    do
    :: if
       :: stop_mergers -> last = true
       :: else
       fi;
       collect(j, j);
       if
       :: last -> break
       :: else
       fi
    od;
    mergers_done++
}
#endif

/* The pool's owner: dispatch, join, and (M == 1) collect on its own thread,
 * up to MAXCOLLECT times per round at any point between a dispatch and the
 * next; after the last join one more collect must get everything. */
#ifndef MAXCOLLECT
#define MAXCOLLECT 2
#endif
active proctype Owner() {
    byte w, r, round, cur, published, before, mr, watermark, lowest, _q, _n, _o, _k, _g;
    bool took, progress, last;
    byte j, collects, joined = 0;                   /* rounds joined (every worker done) */

    atomic {
        for (w : 0 .. W - 1) {
            word[w] = RECY_OF(w * 3 + 2);   /* rings[1] recycled in the slot */
            act[w] = w * 3 + 1;             /* rings[0] */
            front[w] = w * 3 + 3;           /* rings[2] */
            next_round[w] = 1;
            check_ownership(w)
        };
        for (j : 0 .. M - 1) { last_seq[j] = -1 };
        for (w : 0 .. W - 1) { run Worker(w) };
#if M > 1
        for (j : 0 .. M - 1) { run Merger(j) };
#endif
        w = 0; j = 0
    }

    do
    :: round - joined < 2 && round < R ->           /* dispatch: at most two rounds in flight */
        atomic { round++; collects = 0; w = 0 }
        do
        :: w < W ->
own_go:     go[w] = round;                          /* (A) release */
            w++
        :: else -> break
        od;
        w = 0
    :: joined < round ->                            /* join the oldest round in flight */
        do
        :: w < W ->
own_done:   (done[w] > joined);                     /* (D) acquire */
            w++
        :: else -> break
        od;
        atomic { w = 0; joined++ }
#if M == 1
    :: collects < MAXCOLLECT || (joined == R) ->
        last = joined == R;
        collect(0, 0);
        collects++;
        if
        :: last -> break
        :: else
        fi
#else
    :: joined == R -> break
#endif
    od;
#if M > 1
    stop_mergers = true;
    (mergers_done == M);
#endif
    final_checks();
    for (w : 0 .. W - 1) { go[w] = SHUTDOWN };      /* (A) shutdown */
    (workers_exited == W);
    finished = true
}

#ifdef LIVENESS
ltl finish { <> finished }
#endif

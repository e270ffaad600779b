/*
 * park.pml: the register / recheck / park protocol of include/handoff/detail/waiter.hpp (and mvar.hpp's
 * slow path) against a notifier, in Promela. Logic only: every step is sequentially consistent; memory
 * orders are the Relacy model's job (tests/model/waiter_model.cpp).
 *
 * One taker, one putter, one box. The box's state word has FULL and TAKERS (a taker is queued) bits.
 *   taker:  fast path CAS FULL -> 0. Else, under the lock, decide from the state word and register with a
 *           CAS that sets TAKERS only if the word is unchanged (decide-and-register is atomic with respect
 *           to the putter's lock-free fast path); unlock; await: set SLEEPING on the node with a CAS, park
 *           while the node word still holds WAITING|SLEEPING.
 *   putter: fast path CAS 0 -> FULL (fails if TAKERS is set). Else, under the lock, claim the queued
 *           node, clear TAKERS, deliver, and complete: exchange the node word to DONE, wake if SLEEPING.
 * Properties: safety (assertions: the value is delivered once; no invalid end state: nobody parks forever)
 * and liveness, ltl woken: <> taken (the taker eventually gets the value).
 *
 * Planted variant (spin -DPLANTED): check-then-register. The taker decides "empty" from the word it read
 * and then registers with an unconditional fetch_or, so a put that lands in between takes the fast path
 * (TAKERS was not yet set), nobody serves the taker, and it parks forever. spin must reject it.
 *
 * Run: see docs/models/README.md (ctest -R spin_park runs both).
 */

#define FULL     1
#define TAKERS   2

#define WAITING  0
#define CLAIMED  1
#define DONE     2
#define SLEEPING 4

byte state = 0;        /* the box's state word */
bit  lock = 0;         /* the primitive's slow_lock */
byte node = WAITING;   /* the taker's waiter node (phase | SLEEPING) */
bit  queued = 0;       /* the node is in the takers queue (guarded by lock) */
bit  parked = 0;       /* futex: the taker sleeps on the node word until a wake clears this */
byte value = 0;        /* what the taker received */
bool taken = false;
byte delivered = 0;    /* how many times the putter handed the value over (box or node) */

inline acquire() { atomic { lock == 0 -> lock = 1 } }
inline release() { lock = 0 }

/* futex wait: check and sleep are one step; returns when woken, at once if the word changed, or spuriously */
inline park(expected) {
  atomic { if :: node == expected -> parked = 1 :: else -> skip fi };
  if
  :: parked == 0
  :: atomic { parked == 1 -> parked = 0 }   /* spurious return: the await loop must absorb it (G-5) */
  fi
}

active proctype taker() {
  byte s, e;
  bit ok;
  atomic { if :: state == FULL -> state = 0; value = 7; taken = true; goto done :: else -> skip fi };
retry:
  acquire();
  s = state;
  if
  :: (s & FULL) ->
     atomic { if :: state == s -> state = s & ~FULL; value = 7; taken = true
              :: else -> skip fi };
     release();
     if :: taken -> goto done :: else -> goto retry fi
  :: else ->
#ifdef PLANTED
     atomic { state = state | TAKERS };   /* BUG: registers whatever happened since the check */
#else
     atomic { if :: state == s -> state = s | TAKERS
              :: else -> release(); goto retry fi };
#endif
     queued = 1;
     release()
  fi;
  /* await (waiter.hpp), spin_limit 0: load; done? else CAS the sleeping bit into the word just read (a
     failed CAS re-reads); park expecting exactly that word (returns at once if the waker came first) */
  do
  :: e = node;
     if
     :: e == DONE -> break
     :: else -> skip
     fi;
     if
     :: (e & SLEEPING) == 0 ->
        atomic { if :: node == e -> e = e | SLEEPING; node = e; ok = 1 :: else -> ok = 0 fi }
     :: else -> ok = 1
     fi;
     if :: ok -> park(e) :: else -> skip fi
  od;
  value = 7;
  taken = true;
done:
  skip
}

active proctype putter() {
  byte s, old;
  atomic { if :: state == 0 -> state = FULL; delivered++; goto done :: else -> skip fi };
  acquire();
  s = state;
  if
  :: queued ->
     /* claim the oldest taker, clear TAKERS (the queue is now empty), deliver outside the lock */
     atomic { node = CLAIMED | (node & SLEEPING) };
     queued = 0;
     state = s & ~TAKERS;
     release();
     delivered++;
     atomic { old = node; node = DONE };    /* complete(): release exchange */
     if :: (old & SLEEPING) -> parked = 0   /* unpark_one */
        :: else -> skip fi
  :: else ->
     /* full (only the taker's own value could be there: cannot happen with one putter) or empty */
     assert(!(s & FULL));
     state = s | FULL;
     delivered++;
     release()
  fi;
done:
  skip
}

/* Safety at the end of every complete run: the value went to the taker or stayed in the box, once. */
active proctype check() {
  timeout ->
  assert(delivered == 1);
  assert(taken || (state & FULL));
}

ltl woken { <> taken }

// bench/go/wake.go: the wake-up rows of mvar_bench, condition_bench and latency_bench, for Go.
//
//   pingpong/go.chan(1)             two goroutines bounce a value through two channels of capacity 1
//                                   (--round-trips per run); every answer is checked (mvar_bench).
//   uncontended/go.chan(1)          one goroutine sends then receives on one channel of capacity 1.
//   notify_no_waiters/go.sync.Cond  Signal with nobody waiting, through a function the compiler may not
//                                   inline (//go:noinline), as condition_bench calls each notify;
//                                   notify_all_no_waiters: Broadcast; notify_no_waiters/go.empty-call: the same
//                                   call to a function that does nothing, the floor of the rows above.
//   broadcast/8/go.sync.Cond        condition_bench's broadcast rounds: one broadcaster, 8 waiters, a mutex, a
//                                   generation and an arrival count; every waiter must see every generation.
//   latency/signal/go.sync.Cond, latency/broadcast/8/go.sync.Cond  latency_bench's rounds: the signaller
//                                   stamps the clock inside its critical section, unlocks and signals; each
//                                   waiter reads the clock as its Wait returns (the mutex re-taken); the
//                                   round's latency is the last waiter's.
// Every row runs unpinned (goroutines) and pinned (locked OS threads on fixed CPUs; team.go). Time: the whole
// run, starting and ending the goroutines included, as the C++ twins time theirs (UseRealTime).

package main

import (
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// runTimed runs body on its own goroutine, pinned to the first allowed CPU in the pinned mode (the goroutine
// keeps its locked thread to the end, so the pin does not leak), and returns the seconds it took.
func runTimed(pinned bool, body func()) float64 {
	var seconds float64
	done := make(chan struct{})
	go func() {
		defer close(done)
		if pinned {
			runtime.LockOSThread()
			pinThread(allowedCPUs()[0])
		}
		start := time.Now()
		body()
		seconds = time.Since(start).Seconds()
	}()
	<-done
	return seconds
}

func registerBoxes(roundTrips uint64) {
	registerPinnings("pingpong/go.chan(1)", func(r *rep, pinned bool) {
		ping, pong := make(chan uint64, 1), make(chan uint64, 1)
		var wrong uint64
		cpuBefore := processCPUSeconds()
		start := time.Now()
		runTeam(2, pinned, func(i int) {
			if i == 0 {
				for n := uint64(0); n < roundTrips; n++ {
					ping <- n
					if <-pong != n {
						wrong++
					}
				}
				return
			}
			for n := uint64(0); n < roundTrips; n++ {
				pong <- <-ping
			}
		})
		r.seconds += time.Since(start).Seconds()
		r.cpuSeconds += processCPUSeconds() - cpuBefore
		if wrong != 0 {
			r.err = fmt.Sprintf("%d answers differed from what was sent", wrong)
		}
		r.items += float64(roundTrips)
		r.label = "round trips; " + pinningName(pinned)
	})
	const pairs = 100000
	registerPinnings("uncontended/go.chan(1)", func(r *rep, pinned bool) {
		ch := make(chan uint64, 1)
		var wrong uint64
		cpuBefore := processCPUSeconds()
		r.seconds += runTimed(pinned, func() {
			for n := uint64(0); n < pairs; n++ {
				ch <- n
				if <-ch != n {
					wrong++
				}
			}
		})
		r.cpuSeconds += processCPUSeconds() - cpuBefore
		if wrong != 0 {
			r.err = fmt.Sprintf("%d values differed from what was sent", wrong)
		}
		r.items += pairs
		r.timeUnit = "ns"
		r.perItem = true
		r.label = "put+take pairs, one goroutine; " + pinningName(pinned)
	})
}

//go:noinline
func signal(c *sync.Cond) { c.Signal() }

//go:noinline
func broadcast(c *sync.Cond) { c.Broadcast() }

//go:noinline
func nothing(c *sync.Cond) {}

func registerConditions(rounds uint64) {
	const calls = 1000000
	for _, row := range []struct {
		name string
		call func(*sync.Cond)
	}{
		{"notify_no_waiters/go.sync.Cond", signal},
		{"notify_all_no_waiters/go.sync.Cond", broadcast},
		{"notify_no_waiters/go.empty-call", nothing},
	} {
		row := row
		registerPinnings(row.name, func(r *rep, pinned bool) {
			c := sync.NewCond(&sync.Mutex{})
			cpuBefore := processCPUSeconds()
			r.seconds += runTimed(pinned, func() {
				for n := 0; n < calls; n++ {
					row.call(c)
				}
			})
			r.cpuSeconds += processCPUSeconds() - cpuBefore
			r.items += calls
			r.timeUnit = "ns"
			r.perItem = true
			r.label = "calls; " + pinningName(pinned)
		})
	}

	const waiters = 8
	registerPinnings("broadcast/8/go.sync.Cond", func(r *rep, pinned bool) {
		var m sync.Mutex
		goCond, allArrived := sync.NewCond(&m), sync.NewCond(&m)
		var generation uint64 // guarded by m
		arrived := 0          // guarded by m
		var wrong atomic.Uint64
		cpuBefore := processCPUSeconds()
		start := time.Now()
		runTeam(waiters+1, pinned, func(i int) {
			m.Lock()
			defer m.Unlock()
			if i == waiters {
				for round := uint64(0); round < rounds; round++ {
					for arrived != waiters {
						allArrived.Wait()
					}
					arrived = 0
					generation++
					m.Unlock()
					goCond.Broadcast()
					m.Lock()
				}
				return
			}
			for round := uint64(0); round < rounds; round++ {
				arrived++
				if arrived == waiters {
					allArrived.Signal()
				}
				for generation == round {
					goCond.Wait()
				}
				if generation != round+1 {
					wrong.Add(1)
				}
			}
		})
		r.seconds += time.Since(start).Seconds()
		r.cpuSeconds += processCPUSeconds() - cpuBefore
		if wrong.Load() != 0 {
			r.err = fmt.Sprintf("%d waiters saw the wrong generation", wrong.Load())
		}
		r.items += float64(rounds)
		r.label = "broadcast rounds, 8 waiters; " + pinningName(pinned)
	})
}

func registerLatency(rounds uint64) {
	base := time.Now() // stamps are monotonic nanoseconds since base
	for _, waiters := range []int{1, 8} {
		waiters := waiters
		name := "latency/signal/go.sync.Cond"
		if waiters > 1 {
			name = "latency/broadcast/8/go.sync.Cond"
		}
		registerPinnings(name, func(r *rep, pinned bool) {
			var m sync.Mutex
			goCond, allArrived := sync.NewCond(&m), sync.NewCond(&m)
			var generation uint64 // guarded by m
			arrived := 0          // guarded by m
			var stamp int64       // guarded by m
			latencies := make([][]int64, waiters)
			for w := range latencies {
				latencies[w] = make([]int64, rounds)
			}
			var wrong atomic.Uint64
			cpuBefore := processCPUSeconds()
			start := time.Now()
			runTeam(waiters+1, pinned, func(i int) {
				m.Lock()
				defer m.Unlock()
				if i == waiters {
					for round := uint64(0); round < rounds; round++ {
						for arrived != waiters {
							allArrived.Wait()
						}
						arrived = 0
						generation++
						stamp = int64(time.Since(base))
						m.Unlock()
						if waiters == 1 {
							goCond.Signal()
						} else {
							goCond.Broadcast()
						}
						m.Lock()
					}
					return
				}
				for round := uint64(0); round < rounds; round++ {
					arrived++
					if arrived == waiters {
						allArrived.Signal()
					}
					for generation == round {
						goCond.Wait()
					}
					latencies[i][round] = int64(time.Since(base)) - stamp
					if generation != round+1 {
						wrong.Add(1)
					}
				}
			})
			r.seconds += time.Since(start).Seconds()
			r.cpuSeconds += processCPUSeconds() - cpuBefore
			if wrong.Load() != 0 {
				r.err = fmt.Sprintf("%d wake-ups saw another round", wrong.Load())
			}
			for round := uint64(0); round < rounds; round++ {
				var last int64
				for w := 0; w < waiters; w++ {
					if latencies[w][round] > last {
						last = latencies[w][round]
					}
				}
				r.latencies = append(r.latencies, last)
			}
			r.items += float64(rounds)
			if waiters == 1 {
				r.label = "signal rounds; " + pinningName(pinned)
			} else {
				r.label = "broadcast rounds, 8 waiters; " + pinningName(pinned)
			}
		})
	}
}

// bench/go/team.go: a team of goroutines released together, timed from the start gate to the last one
// finishing, as bench/harness.hpp's thread_team does for the C++ rows.
//
// Unpinned: plain goroutines, placed by Go's scheduler on GOMAXPROCS threads (the way Go programs run).
// Pinned: goroutine i locks itself to an OS thread (runtime.LockOSThread) and pins that thread to the
// (i mod cores)-th allowed CPU. It never unlocks: a goroutine that exits while locked takes its thread with
// it, so no pinned thread goes back to the runtime's pool with its narrowed mask.

package main

import (
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

type switchCount struct {
	voluntary, involuntary uint64
	counted                bool // only pinned goroutines own a thread whose counts mean anything
}

// runTeam runs body(i) for i in [0, count) and returns the seconds from opening the gate to the last body
// returning, and (pinned only) the workers' context switches during body.
func runTeam(count int, pinned bool, body func(i int)) (float64, switchCount) {
	cpus := allowedCPUs()
	var ready, done sync.WaitGroup
	var voluntary, involuntary atomic.Uint64
	var running atomic.Int64
	var lastDone time.Time // written by the last body to finish; read after done.Wait()
	gate := make(chan struct{})
	running.Store(int64(count))
	ready.Add(count)
	done.Add(count)
	for i := 0; i < count; i++ {
		go func(i int) {
			defer done.Done()
			if pinned {
				runtime.LockOSThread() // never unlocked: see the file comment
				pinThread(cpus[i%len(cpus)])
			}
			ready.Done()
			<-gate
			var v0, i0 uint64
			if pinned {
				v0, i0 = threadSwitches()
			}
			body(i)
			if pinned {
				v1, i1 := threadSwitches()
				voluntary.Add(v1 - v0)
				involuntary.Add(i1 - i0)
			}
			if running.Add(-1) == 0 {
				lastDone = time.Now()
			}
		}(i)
	}
	ready.Wait()
	opened := time.Now()
	close(gate)
	done.Wait()
	return lastDone.Sub(opened).Seconds(), switchCount{voluntary.Load(), involuntary.Load(), pinned}
}

// bench/go/queue.go: queue_bench's rows and topic_bench's fan-out over Go channels.
//
// queue rows (<workload>/<P>x<C>/cap:<n>/go.chan/<unpinned|pinned>): make(chan uint64, n) at capacities 0
// (unbuffered: a rendezvous), 1, 64 and 1024; Go has no unbounded channel, so the unbounded rows have no Go
// column. The workload is bench/queue_workload.hpp's: P producers each send a fixed share of the messages
// (producer << 32 | sequence), C consumers each receive a fixed quota, every consumer checks each producer's
// sequence is increasing and sums a 64-bit mix of what it received; after the run the count and the mixed sum
// must match what was sent, or the row fails. Time: from opening the start gate to the last goroutine
// finishing.
// fan-out rows (fanout/<N>/go.chans/<unpinned|pinned>): one publisher sends every message to each of N
// channels of capacity 1024, each subscriber checks it receives 0, 1, 2, ... in order (topic_bench's
// hand fan-out). Time, as topic_bench's: from starting the goroutines to the last one finishing.

package main

import (
	"fmt"
	"strconv"
	"time"
)

const unbounded = -1

type sweepPoint struct {
	workload             string
	producers, consumers int
	capacity             int
}

// The sweep of queue_bench.cpp's make_sweep, capacities Go can build.
func makeSweep(full bool) []sweepPoint {
	every := []int{0, 1, 64, 1024, unbounded}
	capacities := []int{1, 1024, unbounded}
	if full {
		capacities = every
	}
	cores := len(allowedCPUs())
	var sweep []sweepPoint
	for _, c := range every {
		sweep = append(sweep, sweepPoint{"spsc", 1, 1, c})
	}
	mpsc := []int{2}
	mpmc := []int{2, 4, 8}
	if full {
		mpsc = nil
		for p := 2; p <= 8*cores-1 || p <= 8; p *= 2 {
			mpsc = append(mpsc, p)
		}
		mpmc = nil
		for _, n := range []int{2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64} {
			if n <= 4*cores || n <= 8 {
				mpmc = append(mpmc, n)
			}
		}
	}
	for _, p := range mpsc {
		for _, c := range capacities {
			sweep = append(sweep, sweepPoint{"mpsc", p, 1, c})
		}
	}
	for _, n := range mpmc {
		for _, c := range capacities {
			sweep = append(sweep, sweepPoint{"mpmc", n, n, c})
		}
	}
	return sweep
}

func mix64(x uint64) uint64 { // splitmix64's finaliser, as queue_workload.hpp
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}

type tally struct {
	count, mixedSum uint64
	err             string
	_               [64]byte // one cache line each
}

func registerQueueSweep(full bool, messages uint64) {
	for _, point := range makeSweep(full) {
		if point.capacity == unbounded {
			continue
		}
		point := point
		runMessages := messages
		if point.capacity <= 1 {
			runMessages = messages / 10
		}
		name := fmt.Sprintf("%s/%dx%d/cap:%d/go.chan", point.workload, point.producers, point.consumers,
			point.capacity)
		registerPinnings(name, func(r *rep, pinned bool) { queueRun(r, point, runMessages, pinned) })
	}
}

func queueRun(r *rep, shape sweepPoint, messages uint64, pinned bool) {
	p, c := shape.producers, shape.consumers
	perProducer := messages / uint64(p)
	if perProducer == 0 {
		perProducer = 1
	}
	total := perProducer * uint64(p)
	quota := make([]uint64, c)
	for i := range quota {
		quota[i] = total / uint64(c)
		if uint64(i) < total%uint64(c) {
			quota[i]++
		}
	}
	var expected uint64
	for producer := 0; producer < p; producer++ {
		for s := uint64(0); s < perProducer; s++ {
			expected += mix64(uint64(producer)<<32 | s)
		}
	}
	ch := make(chan uint64, shape.capacity)
	tallies := make([]tally, c)
	cpuBefore := processCPUSeconds()
	seconds, switches := runTeam(p+c, pinned, func(i int) {
		if i < p {
			for s := uint64(0); s < perProducer; s++ {
				ch <- uint64(i)<<32 | s
			}
			return
		}
		t := &tallies[i-p]
		next := make([]uint64, p)
		for n := uint64(0); n < quota[i-p]; n++ {
			v := <-ch
			producer, sequence := v>>32, v&0xffffffff
			if producer >= uint64(p) {
				if t.err == "" {
					t.err = fmt.Sprintf("value from a producer that does not exist (%d:%d)", producer, sequence)
				}
			} else if sequence < next[producer] {
				if t.err == "" {
					t.err = fmt.Sprintf("a producer's values arrived out of order or twice (%d:%d)", producer, sequence)
				}
			} else {
				next[producer] = sequence + 1
			}
			t.mixedSum += mix64(v)
			t.count++
		}
	})
	r.cpuSeconds += processCPUSeconds() - cpuBefore
	var count, sum uint64
	for _, t := range tallies {
		count += t.count
		sum += t.mixedSum
		if t.err != "" && r.err == "" {
			r.err = t.err
		}
	}
	if r.err == "" && count != total {
		r.err = "received " + strconv.FormatUint(count, 10) + " values, expected " + strconv.FormatUint(total, 10)
	}
	if r.err == "" && sum != expected {
		r.err = "checksum mismatch: a value was lost, duplicated or altered"
	}
	r.seconds += seconds
	r.items += float64(total)
	r.switches.voluntary += switches.voluntary
	r.switches.involuntary += switches.involuntary
	r.switches.counted = switches.counted
	r.label = "chan; " + pinningName(pinned)
}

func registerFanout(full bool, messages uint64) {
	counts := []int{1, 2, 4, 8}
	if full {
		for n := 16; n <= 8*len(allowedCPUs()); n *= 2 {
			counts = append(counts, n)
		}
	}
	for _, n := range counts {
		n := n
		registerPinnings(fmt.Sprintf("fanout/%d/go.chans", n), func(r *rep, pinned bool) {
			channels := make([]chan uint64, n)
			for i := range channels {
				channels[i] = make(chan uint64, 1024)
			}
			wrong := make([]uint64, n)
			cpuBefore := processCPUSeconds()
			start := time.Now() // topic_bench times spawning and joining too (UseRealTime)
			_, _ = runTeam(n+1, pinned, func(i int) {
				if i == 0 {
					for m := uint64(0); m < messages; m++ {
						for _, ch := range channels {
							ch <- m
						}
					}
					return
				}
				for m := uint64(0); m < messages; m++ {
					if <-channels[i-1] != m {
						wrong[i-1]++
					}
				}
			})
			seconds := time.Since(start).Seconds()
			r.cpuSeconds += processCPUSeconds() - cpuBefore
			var bad uint64
			for _, w := range wrong {
				bad += w
			}
			if bad != 0 {
				r.err = fmt.Sprintf("%d deliveries were missing, repeated or out of order", bad)
			}
			r.seconds += seconds
			r.items += float64(messages) * float64(n)
			r.label = "deliveries; " + pinningName(pinned)
		})
	}
}

// bench/go/select.go: select_bench's rows (bench/select_bench.cpp) over Go's `select` statement on channels,
// peer go.select. Every select is a statement with one case per channel written out (reflect.Select, the
// only form for a channel count known at run time, allocates and is far slower: it is not what Go code
// with a fixed set of channels does).
//
//   select_recv/2x1/chans:2/cap:1024  2 producers, each sending to its own make(chan uint64, 1024); 1
//                                     consumer receives through a 2-case select. --messages in all.
//   select_recv/2x1/chans:2/cap:0     the same over unbuffered channels; a tenth of --messages.
//   select_recv/8x1/chans:8/cap:1024  8 producers, 8 channels, one 8-case select.
//   select_idle/1x1/chans:8/cap:1024  1 producer on channel 0; channels 1-7 stay empty; the 8-case select.
//   select_send/1x4/chans:4/cap:16    1 producer sends through a 4-case select over 4 channels of 16; one
//                                     consumer per channel ranges over it until the producer closes them.
//   select_pingpong/chans:2/cap:1     two goroutines, --round-trips round trips: each sends into the other's
//                                     chan(1) and selects over its own data channel and a stop channel
//                                     (chan struct{}, unbuffered, shared) that never fires.
// Checks as select_bench.cpp's: per-producer order, count and 64-bit mixed sum; every ping-pong answer.
// Time: from opening the start gate to the last goroutine finishing (runTeam), the ping-pong too.

package main

import (
	"fmt"
	"strconv"
	"sync/atomic"
)

const selectPeer = "go.select"

// selectTally is one consumer's count, mixed sum and first error, with the checks of queue_workload.hpp.
type selectTally struct {
	count, mixedSum uint64
	err             string
	_               [64]byte
}

func (t *selectTally) fail(what string, v uint64) {
	if t.err == "" {
		t.err = fmt.Sprintf("%s (value %d:%d)", what, v>>32, v&0xffffffff)
	}
}

func (t *selectTally) check(total, expected uint64) string {
	if t.err != "" {
		return t.err
	}
	if t.count != total {
		return "received " + strconv.FormatUint(t.count, 10) + " values, expected " + strconv.FormatUint(total, 10)
	}
	if t.mixedSum != expected {
		return "checksum mismatch: a value was lost, duplicated or altered"
	}
	return ""
}

// receive2 and receive8: one select over the channels; the index of the case that won and its value.
func receive2(chs []chan uint64) (int, uint64) {
	select {
	case v := <-chs[0]:
		return 0, v
	case v := <-chs[1]:
		return 1, v
	}
}

func receive8(chs []chan uint64) (int, uint64) {
	select {
	case v := <-chs[0]:
		return 0, v
	case v := <-chs[1]:
		return 1, v
	case v := <-chs[2]:
		return 2, v
	case v := <-chs[3]:
		return 3, v
	case v := <-chs[4]:
		return 4, v
	case v := <-chs[5]:
		return 5, v
	case v := <-chs[6]:
		return 6, v
	case v := <-chs[7]:
		return 7, v
	}
}

func send4(chs []chan uint64, v uint64) {
	select {
	case chs[0] <- v:
	case chs[1] <- v:
	case chs[2] <- v:
	case chs[3] <- v:
	}
}

func makeChans(n, capacity int) []chan uint64 {
	chs := make([]chan uint64, n)
	for i := range chs {
		chs[i] = make(chan uint64, capacity)
	}
	return chs
}

func (r *rep) addTeam(seconds float64, switches switchCount, cpuBefore, items float64, what string, pinned bool) {
	r.seconds += seconds
	r.cpuSeconds += processCPUSeconds() - cpuBefore
	r.items += items
	r.switches.voluntary += switches.voluntary
	r.switches.involuntary += switches.involuntary
	r.switches.counted = switches.counted
	r.label = what + "; " + pinningName(pinned)
}

// selectRecv: `producers` producers (producer i sends to channel i), n channels, one selecting consumer.
func selectRecv(r *rep, n, producers, capacity int, messages uint64, pinned bool) {
	perProducer := messages / uint64(producers)
	if perProducer == 0 {
		perProducer = 1
	}
	total := perProducer * uint64(producers)
	var expected uint64
	for p := 0; p < producers; p++ {
		for s := uint64(0); s < perProducer; s++ {
			expected += mix64(uint64(p)<<32 | s)
		}
	}
	chs := makeChans(n, capacity)
	var t selectTally
	cpuBefore := processCPUSeconds()
	seconds, switches := runTeam(producers+1, pinned, func(i int) {
		if i < producers {
			ch := chs[i]
			for s := uint64(0); s < perProducer; s++ {
				ch <- uint64(i)<<32 | s
			}
			return
		}
		next := make([]uint64, producers)
		for k := uint64(0); k < total; k++ {
			var index int
			var v uint64
			if n == 8 {
				index, v = receive8(chs)
			} else {
				index, v = receive2(chs)
			}
			producer, sequence := v>>32, v&0xffffffff
			if producer >= uint64(producers) || producer != uint64(index) {
				t.fail("value from the wrong producer or channel", v)
			} else if sequence < next[producer] {
				t.fail("a producer's values arrived out of order or twice", v)
			} else {
				next[producer] = sequence + 1
			}
			t.mixedSum += mix64(v)
			t.count++
		}
	})
	r.addTeam(seconds, switches, cpuBefore, float64(total), "select receive", pinned)
	if r.err == "" {
		r.err = t.check(total, expected)
	}
}

// selectSend: one producer sends through a 4-case select; one plain consumer per channel until closed.
func selectSend(r *rep, capacity int, messages uint64, pinned bool) {
	var expected uint64
	for s := uint64(0); s < messages; s++ {
		expected += mix64(s)
	}
	chs := makeChans(4, capacity)
	tallies := make([]selectTally, 4)
	cpuBefore := processCPUSeconds()
	seconds, switches := runTeam(5, pinned, func(i int) {
		if i == 0 {
			for s := uint64(0); s < messages; s++ {
				send4(chs, s)
			}
			for _, ch := range chs {
				close(ch)
			}
			return
		}
		t := &tallies[i-1]
		next := uint64(0)
		for v := range chs[i-1] {
			if v>>32 != 0 || v&0xffffffff < next {
				t.fail("a value arrived out of order, twice or from nowhere", v)
			} else {
				next = v&0xffffffff + 1
			}
			t.mixedSum += mix64(v)
			t.count++
		}
	})
	r.addTeam(seconds, switches, cpuBefore, float64(messages), "select send", pinned)
	var all selectTally
	for _, t := range tallies {
		if t.err != "" && all.err == "" {
			all.err = t.err
		}
		all.count += t.count
		all.mixedSum += t.mixedSum
	}
	if r.err == "" {
		r.err = all.check(messages, expected)
	}
}

// selectPingPong: each goroutine sends into the other's chan(1) and selects over {its own, stop}.
func selectPingPong(r *rep, roundTrips uint64, pinned bool) {
	toPinger, toPonger := make(chan uint64, 1), make(chan uint64, 1)
	stop := make(chan struct{}) // never fires
	var wrong atomic.Uint64
	cpuBefore := processCPUSeconds()
	seconds, switches := runTeam(2, pinned, func(i int) {
		inbound, outbound := toPinger, toPonger
		if i == 1 {
			inbound, outbound = toPonger, toPinger
		}
		for n := uint64(0); n < roundTrips; n++ {
			if i == 0 {
				outbound <- n
			}
			var v uint64
			select {
			case v = <-inbound:
				if i == 0 && v != n {
					wrong.Add(1)
				}
			case <-stop:
				wrong.Add(1)
			}
			if i == 1 {
				outbound <- v
			}
		}
	})
	r.addTeam(seconds, switches, cpuBefore, float64(roundTrips), "round trips", pinned)
	if w := wrong.Load(); w != 0 && r.err == "" {
		r.err = fmt.Sprintf("%d answers were wrong or came from stop", w)
	}
}

func registerSelect(messages, roundTrips uint64) {
	row := func(name string) string { return name + "/" + selectPeer }
	registerPinnings(row("select_recv/2x1/chans:2/cap:1024"), func(r *rep, pinned bool) {
		selectRecv(r, 2, 2, 1024, messages, pinned)
	})
	registerPinnings(row("select_recv/2x1/chans:2/cap:0"), func(r *rep, pinned bool) {
		selectRecv(r, 2, 2, 0, messages/10, pinned)
	})
	registerPinnings(row("select_recv/8x1/chans:8/cap:1024"), func(r *rep, pinned bool) {
		selectRecv(r, 8, 8, 1024, messages, pinned)
	})
	registerPinnings(row("select_idle/1x1/chans:8/cap:1024"), func(r *rep, pinned bool) {
		selectRecv(r, 8, 1, 1024, messages, pinned)
	})
	registerPinnings(row("select_send/1x4/chans:4/cap:16"), func(r *rep, pinned bool) {
		selectSend(r, 16, messages, pinned)
	})
	registerPinnings(row("select_pingpong/chans:2/cap:1"), func(r *rep, pinned bool) {
		selectPingPong(r, roundTrips, pinned)
	})
}

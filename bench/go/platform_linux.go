// bench/go/platform_linux.go: what the workloads need from Linux that Go's standard library does not wrap:
// the process's allowed CPUs, pinning the calling OS thread, CPU time and context switches (getrusage), the
// load average and the CPU model. The same facts bench/harness.hpp gives the C++ benchmarks.

package main

import (
	"bufio"
	"os"
	"strconv"
	"strings"
	"syscall"
	"unsafe"
)

const cpuMaskWords = 16 // 1024 CPUs, as glibc's cpu_set_t

// allowedCPUs: the CPUs of the process's affinity mask (so `taskset -c 0-3` makes it a 4-core machine), in
// ascending order; every online CPU when the mask cannot be read.
func allowedCPUs() []int {
	var mask [cpuMaskWords]uint64
	_, _, errno := syscall.RawSyscall(syscall.SYS_SCHED_GETAFFINITY, 0, uintptr(len(mask)*8),
		uintptr(unsafe.Pointer(&mask[0])))
	var cpus []int
	if errno == 0 {
		for cpu := 0; cpu < cpuMaskWords*64; cpu++ {
			if mask[cpu/64]&(1<<(uint(cpu)%64)) != 0 {
				cpus = append(cpus, cpu)
			}
		}
	}
	if len(cpus) == 0 {
		cpus = []int{0}
	}
	return cpus
}

// pinThread pins the calling OS thread (the caller has called runtime.LockOSThread) to one CPU. A failure
// (a restricted cpuset) is ignored: unpinned is still a valid measurement, only a noisier one.
func pinThread(cpu int) {
	var mask [cpuMaskWords]uint64
	mask[cpu/64] |= 1 << (uint(cpu) % 64)
	_, _, _ = syscall.RawSyscall(syscall.SYS_SCHED_SETAFFINITY, 0, uintptr(len(mask)*8),
		uintptr(unsafe.Pointer(&mask[0])))
}

func seconds(tv syscall.Timeval) float64 { return float64(tv.Sec) + float64(tv.Usec)*1e-6 }

// processCPUSeconds: user + sys CPU of the whole process, every thread counted.
func processCPUSeconds() float64 {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return seconds(ru.Utime) + seconds(ru.Stime)
}

const rusageThread = 1 // RUSAGE_THREAD: the calling OS thread only

// threadSwitches: the calling OS thread's voluntary and involuntary context switches so far.
func threadSwitches() (voluntary, involuntary uint64) {
	var ru syscall.Rusage
	_ = syscall.Getrusage(rusageThread, &ru)
	return uint64(ru.Nvcsw), uint64(ru.Nivcsw)
}

func loadAverage() []float64 {
	data, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return nil
	}
	var out []float64
	for i, field := range strings.Fields(string(data)) {
		if i == 3 {
			break
		}
		if v, err := strconv.ParseFloat(field, 64); err == nil {
			out = append(out, v)
		}
	}
	return out
}

func cpuModel() string {
	f, err := os.Open("/proc/cpuinfo")
	if err != nil {
		return "unknown"
	}
	defer f.Close()
	scanner := bufio.NewScanner(f)
	for scanner.Scan() {
		line := scanner.Text()
		if strings.HasPrefix(line, "model name") {
			if i := strings.Index(line, ":"); i >= 0 {
				return strings.TrimSpace(line[i+1:])
			}
		}
	}
	return "unknown"
}

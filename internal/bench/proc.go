package bench

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// clockTicks is the unit of utime and stime in /proc/PID/stat: sysconf
// CLK_TCK (`getconf CLK_TCK`), which is 100 on Linux for every
// architecture Go supports; the generator assumes it rather than call libc.
const clockTicks = 100

// procCPU returns the CPU time, user plus system, in seconds that process
// pid has used so far (fields 14 and 15 of /proc/PID/stat).
func procCPU(pid int) (float64, error) {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The command name (field 2) is in parentheses and may hold spaces or
	// parentheses itself: count the fields from the last ')'.
	i := bytes.LastIndexByte(raw, ')')
	if i < 0 {
		return 0, fmt.Errorf("/proc/%d/stat: no command name", pid)
	}
	f := strings.Fields(string(raw[i+1:])) // f[0] is field 3 (state)
	if len(f) < 13 {
		return 0, fmt.Errorf("/proc/%d/stat: %d fields", pid, len(f)+2)
	}
	utime, err1 := strconv.ParseUint(f[11], 10, 64)
	stime, err2 := strconv.ParseUint(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("/proc/%d/stat: utime %q, stime %q", pid, f[11], f[12])
	}
	return float64(utime+stime) / clockTicks, nil
}

// procRSS returns the resident set size of process pid in bytes (VmRSS of
// /proc/PID/status).
func procRSS(pid int) (int64, error) {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for line := range strings.SplitSeq(string(raw), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			if err != nil {
				return 0, fmt.Errorf("/proc/%d/status: VmRSS %q", pid, v)
			}
			return kb << 10, nil
		}
	}
	return 0, fmt.Errorf("/proc/%d/status: no VmRSS (a kernel thread or a zombie?)", pid)
}

// procs reads CPU and RSS of a set of server processes, summed (a cluster's
// nodes on one machine).
type procs []int

// CPU returns the summed CPU seconds; ok is false without processes or when
// one could not be read.
func (p procs) CPU() (float64, bool) {
	var sum float64
	for _, pid := range p {
		v, err := procCPU(pid)
		if err != nil {
			return 0, false
		}
		sum += v
	}
	return sum, len(p) > 0
}

// RSS returns the summed resident memory in bytes, as CPU.
func (p procs) RSS() (int64, bool) {
	var sum int64
	for _, pid := range p {
		v, err := procRSS(pid)
		if err != nil {
			return 0, false
		}
		sum += v
	}
	return sum, len(p) > 0
}

// machineBusy returns the CPU seconds all processors of the machine have
// spent busy so far (first line of /proc/stat: all but idle and iowait).
func machineBusy() (float64, error) {
	raw, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, err
	}
	line, _, _ := strings.Cut(string(raw), "\n")
	f := strings.Fields(line)
	if len(f) < 8 || f[0] != "cpu" {
		return 0, errors.New("/proc/stat: no cpu line")
	}
	var busy uint64
	for i, v := range f[1:8] { // user nice system idle iowait irq softirq
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("/proc/stat: %q", v)
		}
		if i != 3 && i != 4 {
			busy += n
		}
	}
	if len(f) > 8 { // steal: time taken by other guests is not ours either
		if n, err := strconv.ParseUint(f[8], 10, 64); err == nil {
			busy += n
		}
	}
	return float64(busy) / clockTicks, nil
}

// meter is a reading of the CPU clocks that a run reports on.
type meter struct {
	at       time.Time
	server   float64 // CPU seconds of the server processes
	serverOK bool
	self     float64 // of the generator
	machine  float64 // busy seconds of every processor
}

func (p procs) meter() meter {
	m := meter{at: time.Now()}
	m.server, m.serverOK = p.CPU()
	m.self, _ = procCPU(os.Getpid())
	m.machine, _ = machineBusy()
	return m
}

// CheckPID reports whether pid names a process whose CPU and memory can be
// read.
func CheckPID(pid int) error {
	if _, err := procCPU(pid); err != nil {
		return fmt.Errorf("process %d: %w", pid, err)
	}
	if _, err := procRSS(pid); err != nil {
		return fmt.Errorf("process %d: %w", pid, err)
	}
	return nil
}

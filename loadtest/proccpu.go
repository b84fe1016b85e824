package loadtest

import (
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"
)

// clockTicks is USER_HZ, the unit of /proc/*/stat times: 100 on every Linux this runs on.
const clockTicks = 100

// CPUGroups names the processes whose CPU time a phase reports: fixed process ids (this
// process, the replicas) and every process of a command name (all of PostgreSQL's backends).
type CPUGroups struct {
	Pids  map[string][]int
	Comms map[string]string // group → /proc/<pid>/comm
}

// CPUSample is the cumulative CPU time of each group, and of the whole machine, at one time.
type CPUSample struct {
	At          time.Time
	Groups      map[string]float64 // seconds
	MachineBusy float64            // seconds, every CPU, any process
}

// Sample reads /proc. Groups that cannot be read count 0 (not Linux, process gone).
func (g CPUGroups) Sample() CPUSample {
	s := CPUSample{At: time.Now(), Groups: map[string]float64{}}
	for name, pids := range g.Pids {
		for _, p := range pids {
			s.Groups[name] += procCPU(strconv.Itoa(p))
		}
	}
	if len(g.Comms) > 0 {
		byComm := map[string]string{}
		for group, comm := range g.Comms {
			byComm[comm] = group
			s.Groups[group] += 0
		}
		dirs, _ := filepath.Glob("/proc/[0-9]*")
		for _, d := range dirs {
			comm, err := os.ReadFile(filepath.Join(d, "comm"))
			if err != nil {
				continue
			}
			if group, ok := byComm[strings.TrimSpace(string(comm))]; ok {
				s.Groups[group] += procCPU(filepath.Base(d))
			}
		}
	}
	s.MachineBusy = machineBusy()
	return s
}

// CPUUse is the cores each group used between two samples (1.0: one core all the time).
type CPUUse struct {
	Group string  `json:"group"`
	Cores float64 `json:"cores"`
}

// CoresSince returns each group's cores between before and s, largest first, then the rest of
// the machine's busy time as "other processes" and the machine's total as "machine".
func (s CPUSample) CoresSince(before CPUSample) []CPUUse {
	el := s.At.Sub(before.At).Seconds()
	if el <= 0 {
		return nil
	}
	var out []CPUUse
	var sum float64
	for g, v := range s.Groups {
		c := (v - before.Groups[g]) / el
		sum += c
		out = append(out, CPUUse{Group: g, Cores: c})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Cores > out[j].Cores })
	if s.MachineBusy > 0 {
		total := (s.MachineBusy - before.MachineBusy) / el
		out = append(out, CPUUse{Group: "other processes", Cores: max(0, total-sum)}, CPUUse{Group: "machine", Cores: total})
	}
	return out
}

// procCPU returns a process's user+system CPU seconds, threads included.
func procCPU(pid string) float64 {
	b, err := os.ReadFile("/proc/" + pid + "/stat")
	if err != nil {
		return 0
	}
	// The command name is in parentheses and may hold spaces: fields count from after it.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 13 {
		return 0
	}
	u, _ := strconv.ParseFloat(f[11], 64) // utime, field 14
	k, _ := strconv.ParseFloat(f[12], 64) // stime, field 15
	return (u + k) / clockTicks
}

// machineBusy returns the machine's non-idle CPU seconds from /proc/stat.
func machineBusy() float64 {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	if len(f) < 8 || f[0] != "cpu" {
		return 0
	}
	var busy float64
	for i, v := range f[1:] {
		if i == 3 || i == 4 { // idle, iowait
			continue
		}
		if i >= 8 { // guest times are already counted in user
			break
		}
		n, _ := strconv.ParseFloat(v, 64)
		busy += n
	}
	return busy / clockTicks
}

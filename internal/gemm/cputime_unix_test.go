//go:build unix

package gemm

import (
	"syscall"
	"time"
)

// cpuTime is the CPU time this process has used so far (user + system): on
// a shared machine, work divided by it does not count the time other
// programs held the cores.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

package crashtest

import (
	"os/exec"
	"syscall"
)

// dieWithTest makes the kernel SIGKILL the server if the test process dies first (a panic, a
// closed pipe), so no `releaseops serve` outlives its test.
func dieWithTest(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}

package meshlab

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// TaygaPIDs lists the TAYGA processes running with a configuration file
// below root (xlat-plat's TAYGA backend writes it under its --root), in
// any namespace: a TAYGA left by a killed xlat-plat is nobody's child.
func TaygaPIDs(root string) []int {
	ents, _ := os.ReadDir("/proc")
	var pids []int
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		args := strings.Split(string(b), "\x00")
		if len(args) > 2 && filepath.Base(args[0]) == "tayga" && args[1] == "-c" && strings.HasPrefix(args[2], root+"/") {
			pids = append(pids, pid)
		}
	}
	return pids
}

// ParentPID is the parent of process pid (0 if unknown).
func ParentPID(pid int) int {
	b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	// pid (comm) state ppid ...
	if i := strings.LastIndexByte(string(b), ')'); i > 0 {
		if f := strings.Fields(string(b[i+1:])); len(f) > 1 {
			n, _ := strconv.Atoi(f[1])
			return n
		}
	}
	return 0
}

package platd

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// OpenTayga returns an OpenFunc that runs TAYGA (Debian package tayga) as the
// translator: a reference backend for hosts that have neither the nat46
// module nor the userspace data plane. It understands exactly the PLAT's rule
// shape (local RFC6052 /96, remote NONE /32 <-> /128); TAYGA needs the NAT66
// address outside the /96 and refuses 64:ff9b::/16 prefixes. dir holds its
// configuration (under the daemon's root).
func OpenTayga(dir string) OpenFunc {
	return func(ctx context.Context, dev string, mtu int, rules []string) (Backend, error) {
		if len(rules) != 1 {
			return nil, fmt.Errorf("tayga backend: want one rule pair, got %d", len(rules))
		}
		kv := map[string]string{}
		f := strings.Fields(rules[0])
		for i := 0; i+1 < len(f); i += 2 {
			kv[f[i]] = f[i+1]
		}
		prefix, err1 := netip.ParsePrefix(kv["local.v6"])
		v4, err2 := netip.ParsePrefix(kv["remote.v4"])
		v6, err3 := netip.ParsePrefix(kv["remote.v6"])
		if err := errors.Join(err1, err2, err3); err != nil || kv["local.style"] != "RFC6052" ||
			kv["remote.style"] != "NONE" || prefix.Bits() != 96 || v4.Bits() != 32 || v6.Bits() != 128 {
			return nil, fmt.Errorf("tayga backend: rule %q: only local RFC6052 /96 with remote NONE /32-/128 is supported", rules[0])
		}
		if prefix.Contains(v6.Addr()) {
			return nil, fmt.Errorf("tayga backend: NAT66 address %s lies inside %s, which TAYGA refuses: "+
				"set nat66_address outside the /96 (e.g. the 2018 default fddd:c:1a4c:1a4c:1a4c:1a4c:c000:8)", v6.Addr(), prefix)
		}
		return startTayga(dir, dev, prefix, v4.Addr(), v6.Addr())
	}
}

type taygaBackend struct {
	dev, conf string
	cmd       *exec.Cmd
	done      chan struct{}
}

func startTayga(dir, dev string, prefix netip.Prefix, v4, v6 netip.Addr) (*taygaBackend, error) {
	bin, err := exec.LookPath("tayga")
	if err != nil {
		return nil, fmt.Errorf("tayga backend: %w", err)
	}
	data := filepath.Join(dir, "tayga-"+dev)
	if err := os.MkdirAll(data, 0o755); err != nil {
		return nil, fmt.Errorf("tayga backend: %w", err)
	}
	// TAYGA's own address (source of its ICMP errors): 192.0.0.2, inside
	// 192.0.0.0/29 next to the management 192.0.0.1.
	conf := filepath.Join(dir, "tayga-"+dev+".conf")
	text := strings.Join([]string{
		"tun-device " + dev,
		"ipv4-addr 192.0.0.2",
		"prefix " + prefix.String(),
		fmt.Sprintf("map %s %s", v4, v6),
		"data-dir " + data,
		"",
	}, "\n")
	if err := os.WriteFile(conf, []byte(text), 0o644); err != nil {
		return nil, fmt.Errorf("tayga backend: %w", err)
	}
	// A TAYGA of a killed xlat-plat (kill -9 ends the daemon, not its
	// child) still holds the device and translates unsupervised: stop it,
	// then take over its persistent device.
	if err := stopStaleTayga(conf); err != nil {
		return nil, fmt.Errorf("tayga backend: %w", err)
	}
	if out, err := exec.Command(bin, "-c", conf, "--mktun").CombinedOutput(); err != nil {
		return nil, fmt.Errorf("tayga --mktun: %v: %s", err, strings.TrimSpace(string(out)))
	}
	b := &taygaBackend{dev: dev, conf: conf, done: make(chan struct{})}
	b.cmd = exec.Command(bin, "-c", conf, "-d")
	b.cmd.Stdout, b.cmd.Stderr = os.Stderr, os.Stderr
	if err := b.cmd.Start(); err != nil {
		b.rmtun()
		return nil, fmt.Errorf("tayga: %w", err)
	}
	go func() { _ = b.cmd.Wait(); close(b.done) }()
	return b, nil
}

func (b *taygaBackend) rmtun() error {
	out, err := exec.Command("tayga", "-c", b.conf, "--rmtun").CombinedOutput()
	if err != nil {
		return fmt.Errorf("tayga --rmtun: %v: %s", err, strings.TrimSpace(string(out)))
	}
	return nil
}

// Dead is closed when TAYGA has exited.
func (b *taygaBackend) Dead() <-chan struct{} { return b.done }

func (b *taygaBackend) Close() error {
	_ = b.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-b.done:
	case <-time.After(3 * time.Second):
		_ = b.cmd.Process.Kill()
		<-b.done
	}
	return errors.Join(b.rmtun())
}

// stopStaleTayga ends every TAYGA process running with configuration file
// conf (left by an earlier xlat-plat: the file is this daemon's own): SIGTERM,
// then SIGKILL after 3 s, and waits until they are gone.
func stopStaleTayga(conf string) error {
	pids := staleTayga(conf)
	for _, pid := range pids {
		_ = syscall.Kill(pid, syscall.SIGTERM)
	}
	deadline := time.Now().Add(3 * time.Second)
	for _, pid := range pids {
		for alive(pid, conf) {
			if time.Now().After(deadline) {
				_ = syscall.Kill(pid, syscall.SIGKILL)
			}
			if time.Now().After(deadline.Add(2 * time.Second)) {
				return fmt.Errorf("leftover tayga (pid %d, %s) does not exit", pid, conf)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	return nil
}

// staleTayga lists the PIDs of tayga processes whose command line is
// `tayga -c <conf> ...`.
func staleTayga(conf string) []int {
	ents, _ := os.ReadDir("/proc")
	var pids []int
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err == nil && pid != os.Getpid() && alive(pid, conf) {
			pids = append(pids, pid)
		}
	}
	return pids
}

// alive: process pid runs tayga with configuration file conf (not a zombie).
func alive(pid int, conf string) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil || len(b) == 0 {
		return false
	}
	args := strings.Split(strings.TrimRight(string(b), "\x00"), "\x00")
	if filepath.Base(args[0]) != "tayga" {
		return false
	}
	for i := 1; i+1 < len(args); i++ {
		if args[i] == "-c" && args[i+1] == conf {
			return true
		}
	}
	return false
}

package meshlab

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"text/tabwriter"
	"time"
)

// DemoOptions configure RunDemo.
type DemoOptions struct {
	BinDir   string // bin/ of `make build`
	Prefix   string // namespace prefix ("demo")
	Out      io.Writer
	KeepLogs bool // keep the lab's logs even after success
	// Roaming: "auto" (run the roaming sequence when l3roamd-xlat is
	// implemented), "on" or "off".
	Roaming string
}

// demo runs numbered steps, prints each with its time, and a summary.
type demo struct {
	out     io.Writer
	opts    DemoOptions
	m       *Mesh
	t0      time.Time
	results []stepResult
	n       int
}

type stepResult struct {
	name, status, detail string
	took                 time.Duration
}

// step runs f as the next step; its detail goes on the step's line.
func (d *demo) step(name string, f func() (string, error)) error {
	d.n++
	fmt.Fprintf(d.out, "[%2d] %s ...\n", d.n, name)
	start := time.Now()
	detail, err := f()
	r := stepResult{name: name, detail: detail, took: time.Since(start), status: "ok"}
	if err != nil {
		r.status, r.detail = "FAILED", err.Error()
	}
	d.results = append(d.results, r)
	if err != nil {
		fmt.Fprintf(d.out, "     FAILED after %v: %v\n", r.took.Round(time.Millisecond), err)
		return fmt.Errorf("step %d (%s): %w", d.n, name, err)
	}
	fmt.Fprintf(d.out, "     ok (%v)", r.took.Round(time.Millisecond))
	if detail != "" {
		fmt.Fprintf(d.out, ": %s", detail)
	}
	fmt.Fprintln(d.out)
	return nil
}

func (d *demo) skip(name, why string) {
	d.n++
	fmt.Fprintf(d.out, "[%2d] %s ... skipped: %s\n", d.n, name, why)
	d.results = append(d.results, stepResult{name: name, status: "skipped", detail: why})
}

func (d *demo) summary() {
	fmt.Fprintf(d.out, "\nSummary (total %v)\n", time.Since(d.t0).Round(100*time.Millisecond))
	tw := tabwriter.NewWriter(d.out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "#\tstep\tresult\ttime\tdetail")
	for i, r := range d.results {
		took := "-"
		if r.status != "skipped" {
			took = r.took.Round(time.Millisecond).String()
		}
		detail := r.detail
		if len(detail) > 110 {
			detail = detail[:107] + "..."
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\n", i+1, r.name, r.status, took, detail)
	}
	tw.Flush()
}

// RunDemo is `xlat-lab demo`: the seed's mesh, an IPv4 client behind the
// IPv6-only mesh, its traffic through CLAT (D) and PLAT (C), C's failure and
// the failover to E, and (when the roaming helper is there) the roaming
// sequence. It returns an error naming the failed step.
func RunDemo(ctx context.Context, opts DemoOptions) (err error) {
	if opts.Out == nil {
		opts.Out = os.Stdout
	}
	if opts.Prefix == "" {
		opts.Prefix = "demo"
	}
	d := &demo{out: opts.Out, opts: opts, t0: time.Now()}
	roaming, why := roamingWanted(opts)
	spec := SeedSpec(opts.Prefix, opts.BinDir)
	spec.Roaming = roaming
	spec.Optional = map[string]bool{"l3roamd-xlat": true}
	spec.Logf = func(format string, args ...any) { fmt.Fprintf(d.out, "     "+format+"\n", args...) }
	fmt.Fprintln(d.out, "gluon-464xlat demo: IPv4 for clients across an IPv6-only babel mesh")
	fmt.Fprintln(d.out, "topology (ring D-A-B-C-D, E behind B; C and E are platnodes with an IPv4 uplink):")
	fmt.Fprintln(d.out, "            E (PLAT, WAN 198.51.100.2)")
	fmt.Fprintln(d.out, "            |")
	fmt.Fprintln(d.out, "    A ----- B")
	fmt.Fprintln(d.out, "    |       |")
	fmt.Fprintln(d.out, "    D ----- C (PLAT, WAN 192.0.2.2)        internet host 203.0.113.10")
	fmt.Fprintln(d.out, "    |")
	fmt.Fprintln(d.out, "  client (IPv4 only, DHCP)")
	fmt.Fprintln(d.out)

	defer func() {
		if d.m != nil {
			if err != nil || opts.KeepLogs {
				d.m.Lab.KeepDir()
				fmt.Fprintf(d.out, "\nlogs of every process: %s\n", d.m.Lab.Dir())
			}
			fmt.Fprintln(d.out, "stopping the lab (every process stopped, every namespace removed)")
			if cerr := d.m.Close(); cerr != nil && err == nil {
				err = cerr
			}
		}
		d.summary()
		switch {
		case err != nil && errors.Is(ctx.Err(), context.Canceled):
			fmt.Fprintf(d.out, "\nDEMO INTERRUPTED: %v\n", err)
		case err != nil:
			fmt.Fprintf(d.out, "\nDEMO FAILED: %v\n", err)
		default:
			fmt.Fprintln(d.out, "\nDEMO OK")
		}
	}()

	if err := d.step("start the lab: 5 nodes with babeld and dnsmasq, xlat-plat on C and E", func() (string, error) {
		m, err := Start(ctx, spec)
		if err != nil {
			return "", err
		}
		d.m = m
		detail := fmt.Sprintf("namespaces %s-%d-*, node roots prepared by the packages' upgrade steps", opts.Prefix, os.Getpid())
		if len(m.Notes) > 0 {
			detail += fmt.Sprintf(" (%d notes above)", len(m.Notes))
		}
		return detail, nil
	}); err != nil {
		return err
	}
	m := d.m
	c, e := m.Nodes["c"], m.Nodes["e"]
	dn := m.Nodes["d"]
	var cl *Client

	if err := d.step("babel converged (every node has every node address and both PLAT /96s, shortest-path metrics)", func() (string, error) {
		if err := m.WaitConverged(ctx); err != nil {
			return "", errors.Join(err, m.CheckRunning())
		}
		r, err := dn.BabelRoutes(ctx)
		if err != nil {
			return "", err
		}
		return fmt.Sprintf("on D: C's PLAT %s metric %d, E's PLAT %s metric %d",
			c.PLATPrefix, r[c.PLATPrefix], e.PLATPrefix, r[e.PLATPrefix]), nil
	}); err != nil {
		return err
	}
	what := "start xlat-clat on every node"
	if roaming {
		what += " and l3roamd-xlat"
	}
	if err := d.step(what+"; the client associates with D", func() (string, error) {
		if err := m.StartNodes(ctx); err != nil {
			return "", err
		}
		cl = m.Clients["cl"]
		return "", nil
	}); err != nil {
		return err
	}
	if err := d.step("the client on D got an IPv4 lease from D's dnsmasq", func() (string, error) {
		a, err := cl.WaitLease(ctx)
		if err != nil {
			return "", err
		}
		return fmt.Sprintf("%s (default route via %s)", a, m.Spec.Site.NextNodeIP4), nil
	}); err != nil {
		return err
	}
	server := ServerAddr.String()
	if err := d.step("ping "+server+" from the client (D's CLAT -> C's PLAT)", func() (string, error) {
		var out string
		err := m.Wait(ctx, "ping through the mesh", 200*time.Millisecond, func() (bool, error) {
			var err error
			out, err = cl.NS.Run(ctx, "ping", "-n", "-c", "1", "-W", "1", server)
			return err == nil, err
		})
		if err != nil {
			return "", err
		}
		out, err = cl.NS.Run(ctx, "ping", "-n", "-q", "-c", "3", "-i", "0.2", "-W", "1", server)
		if err != nil {
			return "", err
		}
		return lastLines(out, 2), nil
	}); err != nil {
		return err
	}
	if err := d.step("HTTP fetch http://"+server+"/ from the client", func() (string, error) {
		return d.httpVia(ctx, cl, c)
	}); err != nil {
		return err
	}
	if err := d.step("xlat-clat status on D and xlat-plat status on C", func() (string, error) {
		clat, _ := dn.NS.Run(ctx, m.Cmd("xlat-clat", "status", "--root", dn.Root)...)
		plat, err := c.NS.Run(ctx, m.Cmd("xlat-plat", "status", "--root", c.Root)...)
		fmt.Fprintf(d.out, "%s%s", indent("D$ xlat-clat status", clat), indent("C$ xlat-plat status", plat))
		return "", err
	}); err != nil {
		return err
	}
	var fo Failover
	if err := d.step("C goes down (power off: its processes killed, its links down)", func() (string, error) {
		var err error
		fo, err = m.MeasureFailover(ctx, "cl", c, e)
		if err != nil {
			return "", err
		}
		return fmt.Sprintf("D's babel withdrew C's /96 after %v", fo.Withdrawn.Round(time.Millisecond)), nil
	}); err != nil {
		return err
	}
	if err := d.step("D moved to E: a new connection from the client works", func() (string, error) {
		goal := "goal <= 2s after the withdrawal: met"
		if fo.AfterWithdraw > 2*time.Second {
			goal = "goal <= 2s after the withdrawal: MISSED"
		}
		clat := "D's CLAT switch time unknown"
		if fo.Switched > 0 {
			clat = fmt.Sprintf("%v after D's CLAT switched", fo.AfterSwitch().Round(time.Millisecond))
		}
		return fmt.Sprintf("first new TCP connection through E %v after C's failure, %v after the withdrawal, %s (%d attempts; %s)",
			fo.FirstConn.Round(time.Millisecond), fo.AfterWithdraw.Round(time.Millisecond), clat, fo.Attempts, goal), nil
	}); err != nil {
		return err
	}
	if err := d.step("HTTP fetch from the client through E", func() (string, error) {
		return d.httpVia(ctx, cl, e)
	}); err != nil {
		return err
	}
	// The roaming sequence (issue 4) comes last, through E: it leaves the
	// roaming helpers with state for the client, which must not blur the
	// failover measurement above.
	if !roaming {
		d.skip("roaming D -> A -> B -> D with TCP and UDP flows", why)
		return nil
	}
	return d.roamingSequence(ctx, "E")
}

// httpVia fetches the internet host's page with curl from the client and
// checks that the host saw platnode p's WAN address.
func (d *demo) httpVia(ctx context.Context, cl *Client, p *Node) (string, error) {
	url := "http://" + ServerAddr.String() + "/"
	var out string
	err := d.m.Wait(ctx, "HTTP "+url, 200*time.Millisecond, func() (bool, error) {
		var err error
		out, err = cl.NS.Run(ctx, "curl", "-sS", "--max-time", "2", url)
		return err == nil, err
	})
	if err != nil {
		return "", err
	}
	out = strings.TrimSpace(out)
	if !strings.Contains(out, "you are "+p.WANAddr.String()+":") {
		return "", fmt.Errorf("server answered %q: expected it to see %s's WAN address %s", out, p.Spec.Name, p.WANAddr)
	}
	return fmt.Sprintf("%q: the server saw %s's WAN address", out, strings.ToUpper(p.Spec.Name)), nil
}

// roamingWanted decides whether the roaming sequence runs.
func roamingWanted(opts DemoOptions) (bool, string) {
	switch opts.Roaming {
	case "on":
		return true, ""
	case "off":
		return false, "disabled (--roaming off)"
	}
	if !RoamingImplemented(opts.BinDir) {
		return false, "l3roamd-xlat run is not implemented yet"
	}
	return true, ""
}

// RoamingImplemented reports whether the binaries in binDir have a working
// l3roamd-xlat daemon (not the placeholder).
func RoamingImplemented(binDir string) bool {
	out, _ := exec.Command(binDir+"/gluon-464xlat", "l3roamd-xlat", "run", "--help").CombinedOutput()
	return !strings.Contains(string(out), "not implemented yet")
}

func lastLines(s string, n int) string {
	return strings.ReplaceAll(tail(s, n), "\n", "; ")
}

func indent(title, body string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "     %s\n", title)
	for _, l := range strings.Split(strings.TrimRight(body, "\n"), "\n") {
		fmt.Fprintf(&b, "       %s\n", l)
	}
	return b.String()
}

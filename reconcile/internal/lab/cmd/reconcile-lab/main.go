// Command reconcile-lab is `make demo`: it builds a lab of network namespaces from a policy
// repository's endpoints (one per host, one per workload), runs `reconcile apply` for every
// host inside its namespace, and then sends real traffic between every pair of endpoints,
// printing what the simulator expected next to what the packet did.
//
//	go run ./reconcile/internal/lab/cmd/reconcile-lab -bin bin/reconcile -policies policies
//
// It exits 1 when a probe disagrees with the simulator, when it is not run as root, or on any
// error; it removes every namespace it made, also on SIGINT and SIGTERM.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/reconcile-dev/reconcile/reconcile/compile"
	"github.com/reconcile-dev/reconcile/reconcile/internal/lab"
	"github.com/reconcile-dev/reconcile/reconcile/nft"
	"github.com/reconcile-dev/reconcile/reconcile/simulate"
	"github.com/reconcile-dev/reconcile/schema"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr, os.Geteuid())
	stop()
	os.Exit(code)
}

// notRoot is what the demo says when it cannot create namespaces.
const notRoot = "make demo needs root (it creates network namespaces): run sudo make demo"

// run is the whole program; euid is the effective user id (a parameter so the root check is
// testable).
func run(ctx context.Context, args []string, stdout, stderr io.Writer, euid int) int {
	fs := flag.NewFlagSet("reconcile-lab", flag.ContinueOnError)
	fs.SetOutput(stderr)
	bin := fs.String("bin", "bin/reconcile", "the reconcile binary to apply the policies with")
	policies := fs.String("policies", "policies", "the policy repository (a plain directory)")
	timeout := fs.Duration("timeout", lab.DefaultTimeout, "how long a probe waits before calling a flow blocked")
	parallel := fs.Int("parallel", 32, "probes in flight at once")
	verbose := fs.Bool("v", false, "log the lab's progress")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if euid != 0 {
		fmt.Fprintln(stderr, notRoot)
		return 1
	}
	level := slog.LevelWarn
	if *verbose {
		level = slog.LevelInfo
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	if err := demo(ctx, log, *bin, *policies, *timeout, *parallel, stdout); err != nil {
		fmt.Fprintf(stderr, "reconcile-lab: %v\n", err)
		return 1
	}
	return 0
}

// plural writes "1 probe" or "3 probes".
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return strconv.Itoa(n) + " " + noun + "s"
}

// errUnexpected says that some probe disagreed with the simulator (the table shows which).
type errUnexpected int

func (e errUnexpected) Error() string {
	return fmt.Sprintf("%s did not do what the simulator expected", plural(int(e), "probe"))
}

// demo loads the policies, builds the lab, applies the policies to every host with the
// reconcile binary bin, sends the matrix and the repository's tests and prints both tables.
func demo(ctx context.Context, log *slog.Logger, bin, policies string, timeout time.Duration, parallel int, stdout io.Writer) error {
	bin, err := filepath.Abs(bin)
	if err != nil {
		return err
	}
	if _, err := os.Stat(bin); err != nil {
		return fmt.Errorf("reconcile binary: %w (run make build first)", err)
	}
	policies, err = filepath.Abs(policies)
	if err != nil {
		return err
	}
	repo, err := loadPolicies(policies)
	if err != nil {
		return err
	}
	if gone, err := lab.CleanStale(); err != nil {
		log.Warn("could not remove the namespaces of earlier, killed demos", "err", err)
	} else if len(gone) > 0 {
		fmt.Fprintf(stdout, "Removed %d network namespaces left by earlier, killed demos.\n", len(gone))
	}
	ports := Ports(repo)
	udpPorts := UDPPorts(repo)
	start := time.Now()
	l, err := lab.Build(ctx, repo, lab.Options{TCPPorts: ports, UDPPorts: udpPorts, Log: log})
	if err != nil {
		return fmt.Errorf("build the lab: %w", err)
	}
	defer l.Close()
	fmt.Fprintf(stdout, "Lab %s: %s, %s (network namespaces %s-*)\n\n", l.Prefix, plural(len(l.Hosts()), "host"), plural(len(l.Workloads()), "workload"), l.Prefix)

	rulesets, err := applyAll(ctx, l, repo, bin, policies, stdout)
	if err != nil {
		return err
	}
	bad, err := probe(ctx, l, &simulate.Network{Repo: repo, Rulesets: rulesets}, ports, timeout, parallel, stdout)
	if err != nil {
		return err
	}
	log.Info("demo done", "elapsed", time.Since(start).Round(time.Millisecond))
	if bad > 0 {
		return errUnexpected(bad)
	}
	return nil
}

// loadPolicies reads and validates the repository at the absolute path policies, which must
// have endpoints.
func loadPolicies(policies string) (*schema.Repository, error) {
	files, refused, err := schema.ReadRoot(policies)
	if err != nil {
		return nil, fmt.Errorf("read %q: %w", policies, err)
	}
	repo, errs := schema.LoadFiles(files, refused)
	if len(errs) > 0 {
		return nil, fmt.Errorf("policies %q are not valid:\n%w", policies, errs)
	}
	if len(repo.Endpoints) == 0 {
		return nil, fmt.Errorf("policies %q have no endpoints: nothing to demonstrate", policies)
	}
	return repo, nil
}

// applyAll runs `reconcile apply` for every host of the lab in its namespace (state in a
// temporary directory, removed on return), printing each command and its output, and returns
// each host's compiled ruleset for the simulator.
func applyAll(ctx context.Context, l *lab.Lab, repo *schema.Repository, bin, policies string, stdout io.Writer) (map[string]*nft.Ruleset, error) {
	stateRoot, err := os.MkdirTemp("", "reconcile-lab-state-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(stateRoot)
	rulesets := map[string]*nft.Ruleset{}
	for _, h := range l.Hosts() {
		args := []string{"apply", "--dir", policies, "--host", h, "--netns", l.Host(h).Netns, "--state-dir", filepath.Join(stateRoot, h)}
		fmt.Fprintf(stdout, "$ reconcile %s\n", strings.Join(args, " "))
		out, err := exec.CommandContext(ctx, bin, args...).CombinedOutput()
		stdout.Write(out)
		if err != nil {
			return nil, fmt.Errorf("apply on %q: %w", h, err)
		}
		fmt.Fprintln(stdout)
		rs, err := compile.Compile(repo, compile.Options{Host: h})
		if err != nil {
			return nil, fmt.Errorf("compile for %q: %w", h, err)
		}
		rulesets[h] = rs
	}
	return rulesets, nil
}

// probe sends the matrix and the repository's tests (those the lab can send), prints both
// tables and the summary line, and returns how many probes were unexpected.
func probe(ctx context.Context, l *lab.Lab, sim *simulate.Network, ports []int, timeout time.Duration, parallel int, stdout io.Writer) (int, error) {
	repo := sim.Repo
	probes := Matrix(l, repo, ports)
	tests, testProbes, skipped := TestProbes(l, repo)
	outcomes := l.RunAll(ctx, sim, append(probes, testProbes...), timeout, parallel)
	if err := ctx.Err(); err != nil {
		return 0, fmt.Errorf("interrupted: %w", err)
	}
	bad := PrintTable(stdout, outcomes[:len(probes)])
	if len(tests) > 0 {
		fmt.Fprintf(stdout, "\nThe repository's reachability tests (tests/*.yaml) with real packets:\n")
		bad += PrintTests(stdout, tests, outcomes[len(probes):])
	}
	if skipped > 0 {
		fmt.Fprintf(stdout, "(left to `reconcile test`: %s not between two workloads of the lab, or with a protocol the lab cannot send)\n", plural(skipped, "test"))
	}
	fmt.Fprintf(stdout, "\n%s: %d as expected, %d unexpected\n", plural(len(outcomes), "probe"), len(outcomes)-bad, bad)
	return bad, nil
}

// Ports returns the TCP ports to probe: those the repository's rules and tests name (single
// ports, and both ends of ranges), or 22, 80 and 443 when they name none; at most 8, smallest
// first.
func Ports(repo *schema.Repository) []int {
	seen := map[int]bool{}
	add := func(rs []schema.PortRange) {
		for _, r := range rs {
			seen[int(r.First)] = true
			seen[int(r.Last)] = true
		}
	}
	for _, id := range repo.ProfileIDs() {
		p := repo.Profiles[id]
		for _, r := range slices.Concat(p.Inbound, p.Outbound) {
			if r.Protocol != "" && r.Protocol != "tcp" && r.Protocol != "6" {
				continue
			}
			add(r.DstPorts)
			add(r.NotDstPorts)
		}
	}
	for _, t := range repo.Tests {
		if t.Protocol == "tcp" && t.Port > 0 {
			seen[t.Port] = true
		}
	}
	delete(seen, 0)
	var ports []int
	for p := range seen {
		ports = append(ports, p)
	}
	if len(ports) == 0 {
		ports = []int{22, 80, 443}
	}
	slices.Sort(ports)
	if len(ports) > 8 {
		ports = ports[:8]
	}
	return ports
}

// UDPPorts returns the udp ports the repository's tests name (at most 8, smallest first).
func UDPPorts(repo *schema.Repository) []int {
	seen := map[int]bool{}
	for _, t := range repo.Tests {
		if t.Protocol == "udp" && t.Port > 0 {
			seen[t.Port] = true
		}
	}
	var ports []int
	for p := range seen {
		ports = append(ports, p)
	}
	slices.Sort(ports)
	if len(ports) > 8 {
		ports = ports[:8]
	}
	return ports
}

// TestProbes turns the repository's expectations into probes: those from one workload of the
// lab to another (by endpoint id or address) by tcp, udp, icmp or icmpv6. It returns the
// expectations it used, their probes, and how many it skipped.
func TestProbes(l *lab.Lab, repo *schema.Repository) ([]*schema.Expectation, []lab.Probe, int) {
	var used []*schema.Expectation
	var probes []lab.Probe
	skipped := 0
	for _, t := range repo.Tests {
		from, fromFam := resolve(l, t.From)
		to, toFam := resolve(l, t.To)
		p := lab.Probe{From: from, To: to, Port: t.Port, ICMPType: t.ICMPType, ICMPCode: t.ICMPCode}
		fam := max(fromFam, toFam)
		switch t.Protocol {
		case "tcp", "udp":
			p.Proto = t.Protocol
		case "icmp":
			p.Proto = "icmp"
			fam = max(fam, 4)
		case "icmpv6":
			p.Proto, fam = "icmp", 6
		}
		if fam == 0 {
			fam = 4
		}
		p.Family = fam
		if from == "" || to == "" || p.Proto == "" || (fromFam != 0 && toFam != 0 && fromFam != toFam) ||
			!l.Addr(from, fam).IsValid() || !l.Addr(to, fam).IsValid() {
			skipped++
			continue
		}
		if p.ICMPType != nil && *p.ICMPType == 8+120*(fam/6) && (p.ICMPCode == nil || *p.ICMPCode == 0) {
			p.ICMPType, p.ICMPCode = nil, nil // an echo request: ping, and wait for the reply
		}
		used = append(used, t)
		probes = append(probes, p)
	}
	return used, probes, skipped
}

// resolve finds the workload named by an endpoint id or holding an address, and the family the
// address fixes (0 for an id).
func resolve(l *lab.Lab, s string) (string, int) {
	if l.Workload(s) != nil {
		return s, 0
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return "", 0
	}
	fam := 4
	if a.Is6() {
		fam = 6
	}
	for _, id := range l.Workloads() {
		if l.Addr(id, fam) == a {
			return id, fam
		}
	}
	return "", 0
}

// PrintTests writes the tests' table and returns how many were unexpected: the packet or the
// simulator disagreeing with each other or with the test's `expect`.
func PrintTests(w io.Writer, tests []*schema.Expectation, outcomes []lab.Outcome) int {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "TEST\tFROM\tTO\tPROBE\tWANT\tEXPECTED\tOBSERVED\tRESULT")
	bad := 0
	for i, o := range outcomes {
		t := tests[i]
		exp, obs := cells(o)
		res := "ok"
		if !o.OK() || verdict(o.Observed) != t.Expect {
			res = "UNEXPECTED"
			bad++
		}
		name := t.Name
		if name == "" {
			name = fmt.Sprintf("%s:%d", t.Path, t.Pos.Line)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", name, o.Probe.From, o.Probe.To, o.Probe, t.Expect, exp, obs, res)
	}
	tw.Flush()
	return bad
}

// Matrix is every ordered pair of endpoints by tcp to each port and by ping (v4), plus ping6
// for the pairs that both have IPv6 addresses (and tcp over IPv6 when one end has no IPv4).
func Matrix(l *lab.Lab, repo *schema.Repository, ports []int) []lab.Probe {
	var probes []lab.Probe
	for _, from := range l.Workloads() {
		for _, to := range l.Workloads() {
			if from == to {
				continue
			}
			if l.Addr(from, 4).IsValid() && l.Addr(to, 4).IsValid() {
				for _, p := range ports {
					probes = append(probes, lab.Probe{From: from, To: to, Proto: "tcp", Port: p})
				}
				probes = append(probes, lab.Probe{From: from, To: to, Proto: "icmp"})
			}
			if l.Addr(from, 6).IsValid() && l.Addr(to, 6).IsValid() {
				if !l.Addr(from, 4).IsValid() || !l.Addr(to, 4).IsValid() {
					// An IPv6-only pair: its tcp probes go over IPv6.
					for _, p := range ports {
						probes = append(probes, lab.Probe{From: from, To: to, Proto: "tcp", Port: p, Family: 6})
					}
				}
				probes = append(probes, lab.Probe{From: from, To: to, Proto: "icmp", Family: 6})
			}
		}
	}
	return probes
}

// PrintTable writes the matrix and returns how many probes were unexpected.
func PrintTable(w io.Writer, outcomes []lab.Outcome) int {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "FROM\tTO\tPROBE\tEXPECTED\tOBSERVED\tRESULT")
	bad := 0
	for _, o := range outcomes {
		exp, obs := cells(o)
		res := "ok"
		if !o.OK() {
			res = "UNEXPECTED"
			bad++
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", o.Probe.From, o.Probe.To, o.Probe, exp, obs, res)
	}
	tw.Flush()
	return bad
}

func verdict(allow bool) string {
	if allow {
		return "allow"
	}
	return "deny"
}

// cells are the EXPECTED and OBSERVED columns of an outcome: the verdict (with the deciding
// rule for the expectation) or the error.
func cells(o lab.Outcome) (exp, obs string) {
	exp = verdict(o.Expected.Allow) + " (" + o.Expected.Why + ")"
	if o.Expected.Err != nil {
		exp = "error: " + o.Expected.Err.Error()
	}
	obs = verdict(o.Observed)
	if o.Err != nil {
		obs = "error: " + o.Err.Error()
	}
	return exp, obs
}

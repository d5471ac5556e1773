package differential

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"

	"github.com/reconcile-dev/reconcile/reconcile/internal/evaluate"
	"github.com/reconcile-dev/reconcile/reconcile/internal/lab"
	"github.com/reconcile-dev/reconcile/reconcile/nft"
	"github.com/reconcile-dev/reconcile/reconcile/simulate"
	"github.com/reconcile-dev/reconcile/schema"
)

// Kernel is the kernel's verdict on pkts: it writes the repository files (slash-separated path
// -> content) to a temporary directory, builds a namespace lab from its endpoints (one
// namespace per host and per endpoint, see docs/LAB.md), runs the reconcile binary bin
// (`apply --dir D --host H --netns <lab host> --state-dir <tmp>`) for every host, sends every
// packet as a raw frame from its sender's eth0 (lab.SendBatch) and returns, per packet,
// whether it was delivered after the receiving host's netfilter: to the receiving endpoint's
// namespace (To) or to the host's own stack (ToHost). Everything it made is removed before it
// returns. Root only. Errors: a repository that does not load, a lab that cannot be built, an
// apply that fails (with its output), a packet the lab cannot send (lab.Packet: From must be
// set, and To or ToHost).
func Kernel(ctx context.Context, bin string, files map[string]string, pkts []evaluate.Packet) (_ []bool, err error) {
	k, err := openKernel(ctx, bin, files)
	if err != nil {
		return nil, err
	}
	defer func() { err = errors.Join(err, k.close()) }()
	if err := k.apply(ctx, files); err != nil {
		return nil, err
	}
	return k.send(ctx, pkts)
}

// SelfTest checks that the lab built from files can be trusted with pkts before Kernel's
// verdicts are compared with anything. On one lab of the same endpoints (made active) it
// sends pkts three times: with no firewall, every packet must be delivered (each receiver
// works and each packet can reach it); with every profile allowing everything both ways
// (AllowAllFiles), every packet that is not forged (source in the sender's nets, source MAC
// its mac when set), not to the host and that starts a conntrack flow (all but ICMP other
// than requests: echo, timestamp, information, address mask; ICMPv6 echo and node
// information) must be delivered; with every profile empty (DenyAllFiles), no packet but
// those to the host, which must be the same as with allow-all (the host's allowances do not
// depend on profiles). The error lists every packet that broke this, one a line.
func SelfTest(ctx context.Context, bin string, files map[string]string, pkts []evaluate.Packet) (err error) {
	allow, deny, err := selfTestFiles(files)
	if err != nil {
		return err
	}
	k, err := openKernel(ctx, bin, allow)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, k.close()) }()
	open, err := k.send(ctx, pkts)
	if err != nil {
		return err
	}
	var bad []string
	for i, ok := range open {
		// The kernel forwards no packet from the unspecified or a link-local source (a martian
		// or out-of-scope source), and a workload takes none whose source is in its own nets
		// (a local source), firewall or not: only forged packets are such.
		if p := pkts[i]; !ok && !(p.To != "" && (p.Src.IsUnspecified() || p.Src.IsLinkLocalUnicast() || ownsAddr(k.repo, p.To, p.Src))) {
			bad = append(bad, fmt.Sprintf("packet %d (%s): not delivered with no firewall", i, FormatPacket(pkts[i])))
		}
	}
	if err := k.apply(ctx, allow); err != nil {
		return err
	}
	allowed, err := k.send(ctx, pkts)
	if err != nil {
		return err
	}
	if err := k.apply(ctx, deny); err != nil {
		return err
	}
	if err := k.lab.FlushConntrack(); err != nil {
		return err
	}
	denied, err := k.send(ctx, pkts)
	if err != nil {
		return err
	}
	bad = append(bad, selfTestVerdicts(k.repo, pkts, allowed, denied)...)
	if len(bad) > 0 {
		return fmt.Errorf("lab self-test failed:\n%s", strings.Join(bad, "\n"))
	}
	return nil
}

// selfTestVerdicts lists the packets whose delivery under allow-all and deny-all breaks
// SelfTest's rules.
func selfTestVerdicts(repo *schema.Repository, pkts []evaluate.Packet, allowed, denied []bool) []string {
	var bad []string
	for i, p := range pkts {
		d := FormatPacket(p)
		switch {
		case p.ToHost != "":
			if allowed[i] != denied[i] {
				bad = append(bad, fmt.Sprintf("packet %d (%s): to the host, delivered %v with allow-all but %v with deny-all", i, d, allowed[i], denied[i]))
			}
		case denied[i]:
			bad = append(bad, fmt.Sprintf("packet %d (%s): delivered with deny-all", i, d))
		case !allowed[i] && !Forged(repo, p) && simulate.FirstPacketCt(p.Proto, p.ICMPType) == nft.CtNew && hasProfiles(repo, p.From) && hasProfiles(repo, p.To):
			bad = append(bad, fmt.Sprintf("packet %d (%s): not delivered with allow-all", i, d))
		}
	}
	return bad
}

// Forged tells whether p fails anti-spoofing (SPEC §3): its source address is in none of the
// sending endpoint's nets, or its source MAC differs from the endpoint's mac (when both are
// set). Unspecified and link-local sources count as forged here: only DHCP and ND to the host
// may use them.
func Forged(repo *schema.Repository, p evaluate.Packet) bool {
	ep := repo.Endpoint(p.From)
	if ep == nil {
		return true
	}
	if p.SrcMAC != "" && ep.MAC != "" {
		a, err1 := net.ParseMAC(p.SrcMAC)
		b, err2 := net.ParseMAC(ep.MAC)
		if err1 != nil || err2 != nil || a.String() != b.String() {
			return true
		}
	}
	return !ownsAddr(repo, p.From, p.Src)
}

// hasProfiles tells whether endpoint id has at least one profile (an endpoint without any has
// all its traffic dropped, SPEC §3).
func hasProfiles(repo *schema.Repository, id string) bool {
	ep := repo.Endpoint(id)
	return ep != nil && len(ep.ProfileIDs) > 0
}

// AllowAllFiles and DenyAllFiles are files with every profile replaced: one rule allowing
// everything each way, or no rule at all; endpoints are made active, tags and tests dropped.
func AllowAllFiles(files map[string]string) (map[string]string, error) {
	allow, _, err := selfTestFiles(files)
	return allow, err
}

// DenyAllFiles: see AllowAllFiles.
func DenyAllFiles(files map[string]string) (map[string]string, error) {
	_, deny, err := selfTestFiles(files)
	return deny, err
}

// selfTestFiles makes the allow-all and deny-all variants of files.
func selfTestFiles(files map[string]string) (allow, deny map[string]string, err error) {
	repo, err := load(files)
	if err != nil {
		return nil, nil, err
	}
	allow, deny = map[string]string{}, map[string]string{}
	for p, c := range files {
		if strings.HasPrefix(p, "profiles/") || strings.HasPrefix(p, "tests/") || strings.HasPrefix(p, "endpoints/") {
			continue
		}
		allow[p], deny[p] = c, c
	}
	for _, id := range repo.ProfileIDs() {
		name := "profiles/" + id + ".yaml"
		allow[name] = fmt.Sprintf("id: %s\ninbound_rules:\n  - action: allow\noutbound_rules:\n  - action: allow\n", id)
		deny[name] = fmt.Sprintf("id: %s\n", id)
	}
	var eps strings.Builder
	eps.WriteString("endpoints:\n")
	for _, ep := range repo.Endpoints {
		fmt.Fprintf(&eps, "  - id: %q\n    host: %q\n    interface: %q\n", ep.ID, ep.Host, ep.Interface)
		if ep.MAC != "" {
			fmt.Fprintf(&eps, "    mac: %q\n", ep.MAC)
		}
		fmt.Fprintf(&eps, "    ipv4_nets: %s\n    ipv6_nets: %s\n    profile_ids: %s\n    state: active\n",
			flow(ep.IPv4Nets), flow(ep.IPv6Nets), flow(ep.ProfileIDs))
	}
	allow["endpoints/lab.yaml"], deny["endpoints/lab.yaml"] = eps.String(), eps.String()
	return allow, deny, nil
}

// flow is a YAML flow sequence of quoted strings.
func flow(ss []string) string {
	q := make([]string, len(ss))
	for i, s := range ss {
		q[i] = fmt.Sprintf("%q", s)
	}
	return "[" + strings.Join(q, ", ") + "]"
}

// load validates files as a repository.
func load(files map[string]string) (*schema.Repository, error) {
	b := make(map[string][]byte, len(files))
	for p, c := range files {
		b[p] = []byte(c)
	}
	repo, errs := schema.Load(b)
	if len(errs) > 0 {
		return nil, fmt.Errorf("repository does not load: %w", errs)
	}
	return repo, nil
}

// kernelLab is a lab built from a repository, with the directory apply reads and the state
// directories of its hosts.
type kernelLab struct {
	bin, root string // the binary; the temporary directory holding repo/ and state/
	repo      *schema.Repository
	lab       *lab.Lab
}

// openKernel builds the lab of files' endpoints and makes the temporary directory apply reads
// from (written by apply).
func openKernel(ctx context.Context, bin string, files map[string]string) (_ *kernelLab, err error) {
	repo, err := load(files)
	if err != nil {
		return nil, err
	}
	root, err := os.MkdirTemp("", "reconcile-kernel-")
	if err != nil {
		return nil, err
	}
	k := &kernelLab{bin: bin, root: root, repo: repo}
	defer func() {
		if err != nil {
			_ = k.close()
		}
	}()
	k.lab, err = lab.Build(ctx, repo, lab.Options{})
	if err != nil {
		return nil, fmt.Errorf("build the lab: %w", err)
	}
	return k, nil
}

// apply replaces the repository directory's files with files and runs `reconcile apply` for
// every host of the lab.
func (k *kernelLab) apply(ctx context.Context, files map[string]string) error {
	dir := filepath.Join(k.root, "repo")
	if err := os.RemoveAll(dir); err != nil {
		return err
	}
	paths := make([]string, 0, len(files))
	for p := range files {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	for _, p := range paths {
		full := filepath.Join(dir, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(full, []byte(files[p]), 0o644); err != nil {
			return err
		}
	}
	for _, h := range k.lab.Hosts() {
		cmd := exec.CommandContext(ctx, k.bin, "apply", "--dir", dir, "--host", h,
			"--netns", k.lab.Host(h).Netns, "--state-dir", filepath.Join(k.root, "state", h))
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("reconcile apply --host %s: %w\n%s", h, err, out)
		}
	}
	return nil
}

// send sends pkts through the lab (lab.SendBatch) and returns their delivery.
func (k *kernelLab) send(ctx context.Context, pkts []evaluate.Packet) ([]bool, error) {
	lp := make([]lab.Packet, len(pkts))
	for i, p := range pkts {
		if p.From == "" {
			return nil, fmt.Errorf("packet %d (%s): from: the lab sends only from an endpoint", i, FormatPacket(p))
		}
		dst, err := k.destination(p)
		if err != nil {
			return nil, fmt.Errorf("packet %d (%s): %w", i, FormatPacket(p), err)
		}
		lp[i] = lab.Packet{From: p.From, To: p.To, ToHost: p.ToHost, SrcMAC: p.SrcMAC, Src: p.Src, Dst: dst,
			Proto: p.Proto, SrcPort: p.SrcPort, DstPort: p.DstPort, ICMPType: p.ICMPType, ICMPCode: p.ICMPCode}
	}
	return k.lab.SendBatch(ctx, lp, 0)
}

// destination is the address the lab sends p to. To an endpoint: p.Dst, added to the
// receiving workload's eth0 when the lab did not set it (an address inside a net wider than
// one address; the host routes the whole net to the endpoint's interface), so that its
// stack takes the packet. To the host: the host's own address of the family (lab.GatewayV4,
// lab.HostV6), or the limited broadcast from 0.0.0.0, whatever p.Dst is (a multicast group the
// host did not join, an address of the generator's): the host's allowances do not depend on
// the destination address (SPEC §3).
func (k *kernelLab) destination(p evaluate.Packet) (netip.Addr, error) {
	if p.ToHost != "" {
		switch {
		case p.Dst.Is4() && p.Src.IsUnspecified():
			// Linux takes a packet from 0.0.0.0 only to the limited broadcast (a DHCP
			// client's DISCOVER); to a unicast address it is a martian.
			return netip.AddrFrom4([4]byte{255, 255, 255, 255}), nil
		case p.Dst.Is4():
			return lab.GatewayV4, nil
		}
		return lab.HostV6, nil
	}
	w := k.lab.Workload(p.To)
	if w == nil {
		return netip.Addr{}, fmt.Errorf("to: %q is not a workload of the lab", p.To)
	}
	return p.Dst, w.AddAddr(p.Dst)
}

// close removes the lab and the temporary directory.
func (k *kernelLab) close() error {
	var err error
	if k.lab != nil {
		err = k.lab.Close()
	}
	return errors.Join(err, os.RemoveAll(k.root))
}

// ownsAddr tells whether a is in one of endpoint id's nets.
func ownsAddr(repo *schema.Repository, id string, a netip.Addr) bool {
	ep := repo.Endpoint(id)
	if ep == nil {
		return false
	}
	for _, s := range append(append([]string{}, ep.IPv4Nets...), ep.IPv6Nets...) {
		if n, err := schema.ParseNet(s); err == nil && n.Contains(a) {
			return true
		}
	}
	return false
}

package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/reconcile-dev/reconcile/reconcile/internal/testenv"
)

// pasRepo is a repository in the shape of the seed's worked example (WEB and APP, tags), with
// endpoints on node-1 and node-2.
var pasRepo = testenv.WorkedExample()

// pasBadFiles make pasRepo invalid in two files.
var pasBadFiles = map[string]string{
	"profiles/BAD.yaml":   "id: BAD\ninbound_rules:\n  - action: permit\n",
	"endpoints/more.yaml": "endpoints:\n  - id: x\n    host: node-1\n    interface: calix\n    ipv4_nets: [198.18.5.5/32]\n    profile_ids: [NOPE]\n",
}

// TestKernelApplyStatusCycle runs plan, apply and status against the kernel in a private
// network namespace: first apply, no-change apply, a rule added by hand (drift, then healed),
// the table deleted by hand, an invalid repository (kernel unchanged), and another table of
// the namespace that is never touched; the built binary runs every command.
func TestKernelApplyStatusCycle(t *testing.T) {
	t.Parallel()
	ns := testenv.NewNetns(t, "pas")
	repo := t.TempDir()
	testenv.WriteFiles(t, repo, pasRepo)
	stateDir := filepath.Join(t.TempDir(), "state")
	common := []string{"--dir", repo, "--host", "node-1", "--netns", ns, "--state-dir", stateDir}
	cli := func(args ...string) (string, string, int) {
		t.Helper()
		return runReconcile(t, append(args, common...)...)
	}
	nftIn := func(args ...string) string {
		t.Helper()
		return testenv.Run(t, "ip", append([]string{"netns", "exec", ns, "nft"}, args...)...)
	}
	listTable := func() string { t.Helper(); return nftIn("list", "table", "inet", "reconcile") }

	// Somebody else's table, and one endpoint interface that exists (the other is waiting).
	nftIn("add", "table", "inet", "other")
	nftIn("add", "chain", "inet", "other", "keep", "{ type filter hook input priority 5; policy accept; }")
	nftIn("add", "rule", "inet", "other", "keep", "tcp", "dport", "9", "accept")
	other := nftIn("list", "table", "inet", "other")
	testenv.Run(t, "ip", "-n", ns, "link", "add", "caliweb1", "type", "veth", "peer", "name", "caliweb1p")

	out, errOut, code := cli("plan", "--detailed-exitcode")
	if code != 2 {
		t.Fatalf("plan on an empty kernel: exit %d\n%s%s", code, out, errOut)
	}
	for _, want := range []string{"+ table inet reconcile", "+ endpoint web-1 (caliweb1)", "+ profile WEB inbound",
		"Waiting: endpoint app-1: interface caliapp1 does not exist yet", "Plan: "} {
		if !strings.Contains(out, want) {
			t.Errorf("plan lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "Waiting: endpoint web-1") {
		t.Errorf("web-1's interface exists, yet it is waiting:\n%s", out)
	}

	if !strings.HasSuffix(out, "\n\nPlan: "+planCounts(t, cli)+"\n") {
		t.Errorf("plan text does not end with the summary line:\n%s", out)
	}

	out, errOut, code = cli("apply")
	if code != 0 || !strings.Contains(out, "Apply complete! Revision sha256:") {
		t.Fatalf("apply: exit %d\n%s%s", code, out, errOut)
	}
	applied := listTable()
	if !strings.Contains(applied, `comment "WEB inbound 1"`) || !strings.Contains(applied, "chain to-app-1") {
		t.Errorf("kernel table:\n%s", applied)
	}

	out, _, code = cli("apply")
	if code != 0 || !strings.Contains(out, "No changes. Revision sha256:") || !strings.Contains(out, "already applied.") {
		t.Errorf("second apply: exit %d\n%s", code, out)
	}
	if out, _, code = cli("plan", "--detailed-exitcode"); code != 0 || !strings.Contains(out, "No changes.") {
		t.Errorf("plan after apply: exit %d\n%s", code, out)
	}
	if out, errOut, code = cli("status", "--detailed-exitcode"); code != 0 || !strings.Contains(out, "In sync") || !strings.Contains(out, "(applied)") {
		t.Errorf("status after apply: exit %d\n%s%s", code, out, errOut)
	}

	// A rule added by hand is drift; apply removes it.
	nftIn("insert", "rule", "inet", "reconcile", "forward-from", "tcp", "dport", "2222", "accept")
	out, errOut, code = cli("status", "--detailed-exitcode")
	if code != 2 || !strings.Contains(out, "~ chain forward-from") || !strings.Contains(out, "2222") || !strings.Contains(out, "Drift: 0 to add, 1 to change, 0 to destroy.") {
		t.Errorf("status with a hand-added rule: exit %d\n%s%s", code, out, errOut)
	}
	if out, _, code = cli("apply"); code != 0 || !strings.Contains(out, "Apply complete!") {
		t.Errorf("healing apply: exit %d\n%s", code, out)
	}
	if k := listTable(); strings.Contains(k, "2222") {
		t.Errorf("the hand-added rule survived apply:\n%s", k)
	}
	if out, _, code = cli("status", "--detailed-exitcode"); code != 0 {
		t.Errorf("status after healing: exit %d\n%s", code, out)
	}

	// The table deleted by hand.
	nftIn("delete", "table", "inet", "reconcile")
	out, _, code = cli("status", "--detailed-exitcode")
	if code != 2 || !strings.Contains(out, "was deleted") || !strings.Contains(out, "+ table inet reconcile") {
		t.Errorf("status with the table deleted: exit %d\n%s", code, out)
	}
	out, _, code = cli("status", "-o", "json")
	var st struct {
		InSync      bool `json:"in_sync"`
		TableExists bool `json:"table_exists"`
		LastApplied struct {
			Revision string `json:"revision"`
		} `json:"last_applied"`
		Drift struct {
			Changes struct{ Add int } `json:"changes"`
		} `json:"drift"`
	}
	if err := json.Unmarshal([]byte(out), &st); err != nil || code != 0 {
		t.Fatalf("status -o json: exit %d, %v\n%s", code, err, out)
	}
	if st.InSync || st.TableExists || !strings.HasPrefix(st.LastApplied.Revision, "sha256:") || st.Drift.Changes.Add == 0 {
		t.Errorf("status JSON: %+v", st)
	}
	if out, _, code = cli("apply"); code != 0 || !strings.Contains(out, "Apply complete!") {
		t.Errorf("apply after deletion: exit %d\n%s", code, out)
	}

	// An invalid repository: exit 1, every error on stderr, the kernel table unchanged.
	before := listTable()
	testenv.WriteFiles(t, repo, pasBadFiles)
	out, errOut, code = cli("apply")
	if code != 1 || out != "" || !strings.Contains(errOut, "profiles/BAD.yaml:") || !strings.Contains(errOut, "nothing was changed") {
		t.Errorf("invalid apply: exit %d\nstdout %q\nstderr %s", code, out, errOut)
	}
	if after := listTable(); after != before {
		t.Errorf("the kernel table changed:\n%s\nwas:\n%s", after, before)
	}
	out, _, _ = cli("status")
	if !strings.Contains(out, "Last attempt: failed") || !strings.Contains(out, "In sync") {
		t.Errorf("status after a failed apply:\n%s", out)
	}
	for p := range pasBadFiles {
		if err := os.Remove(filepath.Join(repo, p)); err != nil {
			t.Fatal(err)
		}
	}

	// apply -o json after a change.
	testenv.WriteFiles(t, repo, map[string]string{"profiles/WEB.yaml": pasRepo["profiles/WEB.yaml"] + "  - action: deny\n    protocol: udp\n"})
	out, errOut, code = cli("apply", "-o", "json")
	var ap struct {
		Result string `json:"result"`
		Plan   struct {
			Changes struct{ Change int } `json:"changes"`
		} `json:"plan"`
	}
	if err := json.Unmarshal([]byte(out), &ap); err != nil || code != 0 || ap.Result != "applied" || ap.Plan.Changes.Change != 1 {
		t.Errorf("apply -o json: exit %d, %v, %+v\n%s%s", code, err, ap, out, errOut)
	}

	// A repository written out of order converges: after apply, plan has nothing to do.
	testenv.WriteFiles(t, repo, map[string]string{"profiles/WEB.yaml": strings.Replace(pasRepo["profiles/WEB.yaml"],
		"dst_ports: [80, 443]", "dst_ports: [8443, 443, \"1000:2000\", 80]", 1)})
	if out, errOut, code = cli("apply"); code != 0 {
		t.Errorf("apply of unordered ports: exit %d\n%s%s", code, out, errOut)
	}
	if out, _, code = cli("plan", "--detailed-exitcode"); code != 0 {
		t.Errorf("plan after applying unordered ports: exit %d\n%s", code, out)
	}

	if got := nftIn("list", "table", "inet", "other"); got != other {
		t.Errorf("another table changed:\n%s\nwas:\n%s", got, other)
	}
}

// planCounts runs plan -o json and returns "A to add, C to change, D to destroy." from it.
func planCounts(t *testing.T, cli func(args ...string) (string, string, int)) string {
	t.Helper()
	out, errOut, code := cli("plan", "-o", "json")
	var p struct {
		Revision    string `json:"revision"`
		TableExists bool   `json:"table_exists"`
		Waiting     []struct {
			Endpoint, Interface string
		} `json:"waiting"`
		Plan struct {
			Kind    string                             `json:"kind"`
			Changes struct{ Add, Change, Destroy int } `json:"changes"`
			Objects []struct {
				Kind string `json:"kind"`
			} `json:"objects"`
		} `json:"plan"`
	}
	if err := json.Unmarshal([]byte(out), &p); err != nil || code != 0 {
		t.Fatalf("plan -o json: exit %d, %v\n%s%s", code, err, out, errOut)
	}
	if p.Plan.Kind != "plan" || !strings.HasPrefix(p.Revision, "sha256:") || len(p.Plan.Objects) != p.Plan.Changes.Add+p.Plan.Changes.Change+p.Plan.Changes.Destroy {
		t.Errorf("plan JSON: %+v", p)
	}
	if len(p.Waiting) != 1 || p.Waiting[0].Endpoint != "app-1" || p.Waiting[0].Interface != "caliapp1" {
		t.Errorf("plan JSON waiting: %+v", p.Waiting)
	}
	return fmt.Sprintf("%d to add, %d to change, %d to destroy.", p.Plan.Changes.Add, p.Plan.Changes.Change, p.Plan.Changes.Destroy)
}

// TestKernelBundledPolicies applies the bundled policies/ repository for each lab host in its
// own namespace: apply, then nothing left to do, and status in sync.
func TestKernelBundledPolicies(t *testing.T) {
	t.Parallel()
	for _, host := range []string{"node-1", "node-2"} {
		t.Run(host, func(t *testing.T) {
			t.Parallel()
			ns := testenv.NewNetns(t, "pol")
			common := []string{"--dir", filepath.Join("..", "..", "policies"), "--host", host, "--netns", ns, "--state-dir", t.TempDir()}
			out, errOut, code := runReconcile(t, append([]string{"apply"}, common...)...)
			if code != 0 || !strings.Contains(out, "Apply complete!") {
				t.Fatalf("apply: exit %d\n%s%s", code, out, errOut)
			}
			if out, errOut, code = runReconcile(t, append([]string{"apply"}, common...)...); code != 0 || !strings.Contains(out, "already applied") {
				t.Errorf("second apply: exit %d\n%s%s", code, out, errOut)
			}
			if out, errOut, code = runReconcile(t, append([]string{"status", "--detailed-exitcode"}, common...)...); code != 0 {
				t.Errorf("status: exit %d\n%s%s", code, out, errOut)
			}
		})
	}
}

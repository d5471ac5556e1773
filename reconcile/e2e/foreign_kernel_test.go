package e2e

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/reconcile-dev/reconcile/reconcile/internal/testenv"
)

// operatorFilter is the operator's table: an inet filter with an input chain and an ssh
// accept rule, the shape of Debian's default /etc/nftables.conf.
const operatorFilter = `table inet filter {
	chain input {
		type filter hook input priority filter; policy accept;
		tcp dport 22 accept comment "operator ssh"
	}
}
`

// TestKernelForeignTableLeftAlone runs the built binary in a private network namespace that
// holds the operator's inet filter: plan and apply with --table filter exit 1 with the
// one-line reason and leave the namespace's ruleset byte-identical (handles included); apply
// to the default table still works, and replaces its own table on the next change and when a
// chain was added to it by hand.
func TestKernelForeignTableLeftAlone(t *testing.T) {
	t.Parallel()
	ns, repo, run := foreignFixture(t, "foreign")
	nftIn := func(args ...string) string {
		t.Helper()
		return testenv.Run(t, "ip", append([]string{"netns", "exec", ns, "nft"}, args...)...)
	}
	script := filepath.Join(t.TempDir(), "filter.nft")
	if err := os.WriteFile(script, []byte(operatorFilter), 0o644); err != nil {
		t.Fatal(err)
	}
	nftIn("-f", script)
	before := nftIn("-a", "list", "table", "inet", "filter")
	ruleset := nftIn("-a", "list", "ruleset")
	if !strings.Contains(before, `tcp dport 22 accept comment "operator ssh"`) {
		t.Fatalf("the operator's table:\n%s", before)
	}
	const reason = `reconcile: table inet filter exists and was not made by reconcile (chain "input"): choose another --table, or delete the table yourself`

	out, errOut, code := run("plan", "--table", "filter", "--detailed-exitcode")
	if code != 1 || out != "" || errOut != reason+"\n" {
		t.Errorf("plan --table filter: exit %d\nstdout %q\nstderr %q", code, out, errOut)
	}
	out, errOut, code = run("apply", "--table", "filter")
	if code != 1 || out != "" || errOut != reason+"; nothing was changed\n" {
		t.Errorf("apply --table filter: exit %d\nstdout %q\nstderr %q", code, out, errOut)
	}
	out, errOut, code = run("status", "--table", "filter", "--detailed-exitcode")
	if code != 2 || errOut != "" || !strings.Contains(out, "\n\nNot in sync: "+strings.TrimPrefix(reason, "reconcile: ")+".\n") {
		t.Errorf("status --table filter: exit %d\n%s%s", code, out, errOut)
	}
	out, _, code = run("status", "--table", "filter", "-o", "json")
	var st struct {
		Foreign     string `json:"foreign"`
		TableExists bool   `json:"table_exists"`
	}
	if err := json.Unmarshal([]byte(out), &st); err != nil || code != 0 || st.Foreign != strings.TrimPrefix(reason, "reconcile: ") || !st.TableExists {
		t.Errorf("status --table filter -o json: exit %d, %v\n%s", code, err, out)
	}
	if got := nftIn("-a", "list", "ruleset"); got != ruleset {
		t.Fatalf("the namespace's ruleset changed:\n%s\nwas:\n%s", got, ruleset)
	}

	// Our own table beside it.
	if out, errOut, code = run("apply"); code != 0 || !strings.Contains(out, "Apply complete!") {
		t.Fatalf("apply: exit %d\n%s%s", code, out, errOut)
	}
	if got := nftIn("-a", "list", "table", "inet", "filter"); got != before {
		t.Errorf("apply of table reconcile changed table filter:\n%s", got)
	}
	if out, _, code = run("status", "-o", "json"); code != 0 || strings.Contains(out, `"foreign"`) || !strings.Contains(out, `"in_sync": true`) {
		t.Errorf("status of our own table: exit %d\n%s", code, out)
	}
	// A change of the repository replaces our own table.
	testenv.WriteFiles(t, repo, map[string]string{"profiles/WEB.yaml": "id: WEB\ntags: [WEB, APP_7890]\ninbound_rules:\n  - action: allow\n    protocol: tcp\n    dst_ports: [8443]\noutbound_rules:\n  - action: allow\n"})
	if out, errOut, code = run("apply"); code != 0 || !strings.Contains(out, "Apply complete!") {
		t.Fatalf("second apply: exit %d\n%s%s", code, out, errOut)
	}
	ours := nftIn("list", "table", "inet", "reconcile")
	if !strings.Contains(ours, `tcp dport 8443 counter packets 0 bytes 0 accept comment "WEB inbound 1"`) {
		t.Errorf("the second apply did not replace table reconcile:\n%s", ours)
	}
	// A chain added by hand to our table is drift: apply removes it (the record says we
	// applied the table, and its chains are still there).
	nftIn("add", "chain", "inet", "reconcile", "mine")
	if out, errOut, code = run("apply"); code != 0 || !strings.Contains(out, "Apply complete!") {
		t.Fatalf("apply after a hand-added chain: exit %d\n%s%s", code, out, errOut)
	}
	if got := nftIn("list", "table", "inet", "reconcile"); got != ours {
		t.Errorf("the hand-added chain was not healed:\n%s", got)
	}
	// Still refused, and still untouched.
	if _, _, code = run("apply", "--table", "filter"); code != 1 {
		t.Errorf("apply --table filter after the others: exit %d", code)
	}
	if got := nftIn("-a", "list", "table", "inet", "filter"); got != before {
		t.Errorf("table filter changed:\n%s\nwas:\n%s", got, before)
	}
}

// operatorObjects is a table of named stateful objects only: no chain, set or map.
const operatorObjects = `table inet filter {
	counter c1 {
	}
	quota q1 {
		over 10 mbytes
	}
	limit l1 {
		rate 10/second
	}
}
`

// optionalObjects are added one by one when the kernel supports them (nf_flow_table, the
// ftp conntrack helper); the kinds the model names them by.
var optionalObjects = []struct{ kind, name, decl string }{
	{"flowtable", "f", "flowtable f { hook ingress priority 0; devices = { lo }; }"},
	{"ct helper", "ftp-std", `ct helper ftp-std { type "ftp" protocol tcp; }`},
}

// addObjects adds operatorObjects' objects (and each optional object the kernel takes) to
// table inet <table> of namespace ns, and returns the drift lines that status shows for them.
func addKernelObjects(t *testing.T, ns, table string) []string {
	t.Helper()
	script := filepath.Join(t.TempDir(), "objects.nft")
	if err := os.WriteFile(script, []byte(strings.Replace(operatorObjects, "table inet filter", "table inet "+table, 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	testenv.NetnsRun(t, ns, "nft", "-f", script)
	lines := []string{"counter c1", "limit l1", "quota q1"}
	for _, o := range optionalObjects {
		if err := os.WriteFile(script, []byte("table inet "+table+" {\n\t"+o.decl+"\n}\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		if out, err := exec.Command("ip", "netns", "exec", ns, "nft", "-f", script).CombinedOutput(); err != nil {
			// A kernel without the module (nf_flow_table, nf_conntrack_ftp) answers ENOENT or
			// EOPNOTSUPP; anything else (a syntax error) is the test's fault.
			if !bytes.Contains(out, []byte("No such file or directory")) && !bytes.Contains(out, []byte("not supported")) {
				t.Fatalf("nft -f %s: %v\n%s", o.decl, err, out)
			}
			t.Logf("kernel does not take %s (%v: %s); left out", o.decl, err, bytes.TrimSpace(out))
			continue
		}
		lines = append(lines, o.kind+" "+o.name)
	}
	slices.Sort(lines)
	for i, l := range lines {
		lines[i] = "- " + l + " (not reconcile's, removed by apply)"
	}
	return lines
}

// TestKernelForeignObjects: a table that holds only named stateful objects (and a flowtable,
// a ct helper where the kernel has them) is foreign: plan and apply --table filter exit 1 and
// the namespace's ruleset stays byte-identical. The same objects added by hand to our own
// table are drift: status --detailed-exitcode exits 2 and lists each, plan destroys each,
// apply removes them.
func TestKernelForeignObjects(t *testing.T) {
	t.Parallel()
	ns, _, run := foreignFixture(t, "objects")
	nftIn := func(args ...string) string {
		t.Helper()
		return testenv.NetnsRun(t, ns, "nft", args...)
	}
	addKernelObjects(t, ns, "filter")
	ruleset := nftIn("-a", "list", "ruleset")
	if !strings.Contains(ruleset, "counter c1") || strings.Contains(ruleset, "chain") {
		t.Fatalf("the operator's table:\n%s", ruleset)
	}
	const reason = `reconcile: table inet filter exists and was not made by reconcile (counter "c1"): choose another --table, or delete the table yourself`
	if out, errOut, code := run("plan", "--table", "filter", "--detailed-exitcode"); code != 1 || out != "" || errOut != reason+"\n" {
		t.Errorf("plan --table filter: exit %d\nstdout %q\nstderr %q", code, out, errOut)
	}
	if out, errOut, code := run("apply", "--table", "filter"); code != 1 || out != "" || errOut != reason+"; nothing was changed\n" {
		t.Errorf("apply --table filter: exit %d\nstdout %q\nstderr %q", code, out, errOut)
	}
	if got := nftIn("-a", "list", "ruleset"); got != ruleset {
		t.Fatalf("the namespace's ruleset changed:\n%s\nwas:\n%s", got, ruleset)
	}
	nftIn("delete", "table", "inet", "filter")

	// Our own table, then objects added to it by hand.
	if out, errOut, code := run("apply"); code != 0 || !strings.Contains(out, "Apply complete!") {
		t.Fatalf("apply: exit %d\n%s%s", code, out, errOut)
	}
	ours := nftIn("list", "table", "inet", "reconcile")
	want := addKernelObjects(t, ns, "reconcile")
	out, errOut, code := run("status", "--detailed-exitcode")
	if code != 2 || errOut != "" || !strings.Contains(out, strings.Join(want, "\n")+"\n\nDrift: 0 to add, 0 to change, "+strconv.Itoa(len(want))+" to destroy.") {
		t.Errorf("status --detailed-exitcode: exit %d, want 2 and\n%s\n%s%s", code, strings.Join(want, "\n"), out, errOut)
	}
	out, errOut, code = run("plan", "--detailed-exitcode")
	if code != 2 || !strings.Contains(out, strings.Join(want, "\n")+"\n\nPlan: 0 to add, 0 to change, "+strconv.Itoa(len(want))+" to destroy.") {
		t.Errorf("plan --detailed-exitcode: exit %d\n%s%s", code, out, errOut)
	}
	if out, errOut, code = run("apply"); code != 0 || !strings.Contains(out, "Apply complete!") {
		t.Fatalf("apply after hand-added objects: exit %d\n%s%s", code, out, errOut)
	}
	if got := nftIn("list", "table", "inet", "reconcile"); got != ours {
		t.Errorf("the hand-added objects were not removed:\n%s\nwant:\n%s", got, ours)
	}
	if out, errOut, code = run("status", "--detailed-exitcode"); code != 0 {
		t.Errorf("status after apply: exit %d\n%s%s", code, out, errOut)
	}
}

// TestKernelDormantTable: a dormant table keeps its rules but filters nothing. status and plan
// report the flag as drift (exit 2) and apply builds the table anew, without it; the table
// then filters again (the flag is gone and status is in sync). Found by a hostile tester:
// status said "In sync" and apply "already applied" while the host enforced nothing.
func TestKernelDormantTable(t *testing.T) {
	t.Parallel()
	ns, _, run := foreignFixture(t, "dormant")
	if out, errOut, code := run("apply"); code != 0 || !strings.Contains(out, "Apply complete!") {
		t.Fatalf("apply: exit %d\n%s%s", code, out, errOut)
	}
	testenv.NetnsRun(t, ns, "nft", "add", "table", "inet", "reconcile", "{ flags dormant; }")
	if got := testenv.NetnsRun(t, ns, "nft", "list", "table", "inet", "reconcile"); !strings.Contains(got, "flags dormant") {
		t.Fatalf("the table is not dormant:\n%s", got)
	}
	const line = "- table flag dormant (reconcile's table has no flags; a dormant table filters nothing; removed by apply)"
	if out, errOut, code := run("status", "--detailed-exitcode"); code != 2 || !strings.Contains(out, line) {
		t.Errorf("status --detailed-exitcode on a dormant table: exit %d, want 2 and %q\n%s%s", code, line, out, errOut)
	}
	if out, errOut, code := run("plan", "--detailed-exitcode"); code != 2 || !strings.Contains(out, line) {
		t.Errorf("plan --detailed-exitcode on a dormant table: exit %d\n%s%s", code, out, errOut)
	}
	if out, errOut, code := run("apply"); code != 0 || !strings.Contains(out, "Apply complete!") {
		t.Fatalf("apply on a dormant table: exit %d\n%s%s", code, out, errOut)
	}
	if got := testenv.NetnsRun(t, ns, "nft", "list", "table", "inet", "reconcile"); strings.Contains(got, "dormant") {
		t.Errorf("apply left the table dormant:\n%s", got)
	}
	if out, errOut, code := run("status", "--detailed-exitcode"); code != 0 {
		t.Errorf("status after apply: exit %d\n%s%s", code, out, errOut)
	}
}

// TestKernelExpiringDispatch: a dispatch map rebuilt by hand with a timeout on its element
// keeps working until the element expires, and then the endpoint misses its chains (fail
// open). Status reports the timeout as drift (exit 2) and apply builds the map anew without
// it. Found by a hostile tester: status said in sync until the element had expired.
func TestKernelExpiringDispatch(t *testing.T) {
	t.Parallel()
	ns, _, run := foreignFixture(t, "expire")
	if out, errOut, code := run("apply"); code != 0 || !strings.Contains(out, "Apply complete!") {
		t.Fatalf("apply: exit %d\n%s%s", code, out, errOut)
	}
	script := filepath.Join(t.TempDir(), "timeout.nft")
	if err := os.WriteFile(script, []byte(`flush chain inet reconcile forward-to
delete map inet reconcile dispatch-to
add map inet reconcile dispatch-to { type ifname : verdict; flags timeout; elements = { "caliweb1" timeout 1h : goto to-web-1 } }
add rule inet reconcile forward-to oifname vmap @dispatch-to
`), 0o644); err != nil {
		t.Fatal(err)
	}
	testenv.NetnsRun(t, ns, "nft", "-f", script)
	out, errOut, code := run("status", "--detailed-exitcode")
	for _, want := range []string{
		"- set property dispatch-to timeout (reconcile's sets have none; expiring elements fail open; removed by apply)",
		"- set property dispatch-to element timeout (reconcile's sets have none;",
	} {
		if code != 2 || !strings.Contains(out, want) {
			t.Errorf("status --detailed-exitcode: exit %d, want 2 and %q\n%s%s", code, want, out, errOut)
		}
	}
	if out, errOut, code := run("apply"); code != 0 || !strings.Contains(out, "Apply complete!") {
		t.Fatalf("apply: exit %d\n%s%s", code, out, errOut)
	}
	if got := testenv.NetnsRun(t, ns, "nft", "list", "map", "inet", "reconcile", "dispatch-to"); strings.Contains(got, "timeout") {
		t.Errorf("apply left the timeout:\n%s", got)
	}
	if out, errOut, code := run("status", "--detailed-exitcode"); code != 0 {
		t.Errorf("status after apply: exit %d\n%s%s", code, out, errOut)
	}
}

// foreignFixture makes a private network namespace, the worked-example repository and a state
// directory, and returns the namespace, the repository and a runner of the built binary with
// --dir, --host node-1, --netns and --state-dir appended: its stdout, stderr and exit code.
func foreignFixture(t *testing.T, name string) (ns, repo string, run func(args ...string) (string, string, int)) {
	ns = testenv.NewNetns(t, name)
	repo = t.TempDir()
	testenv.WriteFiles(t, repo, pasRepo)
	stateDir := filepath.Join(t.TempDir(), "state")
	run = func(args ...string) (string, string, int) {
		t.Helper()
		return runReconcile(t, append(args, "--dir", repo, "--host", "node-1", "--netns", ns, "--state-dir", stateDir)...)
	}
	return ns, repo, run
}

package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/reconcile-dev/reconcile/reconcile/testenv"
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
	ns := testenv.NewNetns(t, "foreign")
	bin := testenv.BuildReconcile(t)
	repo := t.TempDir()
	testenv.WriteFiles(t, repo, pasRepo)
	stateDir := filepath.Join(t.TempDir(), "state")
	run := func(args ...string) (string, string, int) {
		t.Helper()
		cmd := exec.Command(bin, append(args, "--dir", repo, "--host", "node-1", "--netns", ns, "--state-dir", stateDir)...)
		var out, errb bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errb
		err := cmd.Run()
		var ee *exec.ExitError
		if err != nil && !errors.As(err, &ee) {
			t.Fatalf("run %s: %v", bin, err)
		}
		return out.String(), errb.String(), cmd.ProcessState.ExitCode()
	}
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

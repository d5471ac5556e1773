package e2e

import (
	"os/exec"
	"testing"
)

// GitOps end to end: node-1 watches the directory (fsnotify), node-2 watches it as a git
// repository (interval); a calicoctl-style edit, committed, reaches both kernels on its own.
func TestWatchFollowsRepository(t *testing.T) {
	t.Parallel()
	eps := `endpoints:
  - {id: web-1, host: node-1, interface: caliweb1, ipv4_nets: [198.18.1.2/32], profile_ids: [WEB]}
  - {id: client-1, host: node-1, interface: calicli1, ipv4_nets: [198.18.1.3/32], profile_ids: [CLIENT]}
  - {id: web-2, host: node-2, interface: caliweb2, ipv4_nets: [198.18.2.2/32], profile_ids: [WEB]}
  - {id: client-2, host: node-2, interface: calicli2, ipv4_nets: [198.18.2.3/32], profile_ids: [CLIENT]}
`
	e := newEnv(t, map[string]string{
		"endpoints/all.yaml":   eps,
		"profiles/WEB.yaml":    "id: WEB\ntags: [WEB]\ninbound_rules:\n  - {action: allow, protocol: tcp, dst_ports: [80]}\noutbound_rules: [{action: allow}]\n",
		"profiles/CLIENT.yaml": "id: CLIENT\ntags: [CLIENT]\ninbound_rules: [{action: allow, src_tag: CLIENT}]\noutbound_rules: [{action: allow}]\n",
	}, eps, []int{22, 80}, nil)
	git := func(args ...string) {
		t.Helper()
		cmd := exec.Command("git", append([]string{"-c", "user.name=e2e", "-c", "user.email=e2e@example.invalid", "-c", "commit.gpgsign=false"}, args...)...)
		cmd.Dir = e.dir
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
	git("init", "-q", "-b", "main")
	git("add", "profiles", "endpoints")
	git("commit", "-q", "-m", "lab")

	e.start(append([]string{"watch", "--interval", "1s", "--debounce", "100ms"}, e.hostArgs("node-1")...)...)
	e.start("watch", "--interval", "1s", "--repo", e.dir, "--ref", "main", "--host", "node-2",
		"--netns", e.lab.Host("node-2").Netns, "--state-dir", e.state+"/node-2")
	e.eventually(t, "first pass",
		tcp("client-1", "web-1", 22, false), // only a firewall drops this
		tcp("client-2", "web-2", 22, false),
		tcp("client-1", "web-2", 80, true),
		tcp("web-2", "client-1", 80, false),
	)

	// calicoctl: WEB now allows 22 instead of 80; committed.
	e.must("", "--dir", e.dir, "profile", "WEB", "rule", "remove", "inbound", "--at=1")
	e.must("", "--dir", e.dir, "profile", "WEB", "rule", "add", "inbound", "allow", "tcp", "to", "ports", "22")
	git("commit", "-q", "-am", "WEB: ssh instead of http")
	e.eventually(t, "after the commit",
		tcp("client-1", "web-1", 22, true), // node-1 from the directory
		tcp("client-1", "web-1", 80, false),
		tcp("client-2", "web-2", 22, true), // node-2 from git
		tcp("client-2", "web-2", 80, false),
		tcp("client-1", "web-2", 22, true), // across hosts
	)
}

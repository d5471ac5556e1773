package calicoctl

import (
	"strings"
	"testing"
)

// Findings H2, M1 and L9 of issue 7 through the commands: an edit reached through a merge key
// (<<) or an anchor used elsewhere is refused with its position, exit 1, nothing written and
// no success message; new values are quoted so that YAML 1.1 reads them as strings.

// mergedLabYAML: web-2 merges web-1's mapping, and with it profile_ids: [WEB].
const mergedLabYAML = `endpoints:
  - &e1 {id: web-1, host: node-1, interface: caliweb1, ipv4_nets: [198.18.1.2/32], profile_ids: [WEB]}
  - <<: *e1
    id: web-2
    host: node-2
    interface: caliweb2
    ipv4_nets: [198.18.1.5/32]
  - {id: app-1, host: node-2, interface: caliapp1, ipv4_nets: [198.18.1.3/32], profile_ids: [APP]}
`

// inlineMergeYAML: web-2 gets profile_ids from an inline mapping merged into it.
const inlineMergeYAML = `endpoints:
  - {id: web-1, host: node-1, interface: caliweb1, ipv4_nets: [198.18.1.2/32], profile_ids: [WEB]}
  - {<<: {profile_ids: [WEB]}, id: web-2, host: node-2, interface: caliweb2, ipv4_nets: [198.18.1.5/32]}
`

func sharedRepo(t *testing.T, endpoints string) *repo {
	return newRepo(t, map[string]string{
		"profiles/WEB.yaml":  webYAML,
		"profiles/APP.json":  appJSON,
		"endpoints/lab.yaml": endpoints,
	})
}

func TestEndpointProfileThroughMergeKey(t *testing.T) {
	const merged = `reconcile: endpoints/lab.yaml:3:5: cannot edit the file in place: profile_ids: endpoint "web-2" gets it through a merge key (<<), which this edit cannot change: write profile_ids: in endpoint "web-2" itself first; nothing was written` + "\n"
	const inline = `reconcile: endpoints/lab.yaml:3:6: cannot edit the file in place: profile_ids: endpoint "web-2" gets it through a merge key (<<), which this edit cannot change: write profile_ids: in endpoint "web-2" itself first; nothing was written` + "\n"
	const anchored = `reconcile: endpoints/lab.yaml:2:5: cannot edit the file in place: profile_ids: &e1 (on this mapping) is used by an alias or merge key (*e1) elsewhere, which would change too: write that value out in full instead of *e1 first; nothing was written` + "\n"
	for _, c := range []struct {
		name, file string
		args       []string
		stderr     string
	}{
		{"H2 remove", mergedLabYAML, []string{"endpoint", "web-2", "profile", "remove", "WEB"}, merged},
		{"H2 set none", mergedLabYAML, []string{"endpoint", "web-2", "profile", "set"}, merged},
		{"H2 set other", mergedLabYAML, []string{"endpoint", "web-2", "profile", "set", "APP"}, merged},
		{"H2 append", mergedLabYAML, []string{"endpoint", "web-2", "profile", "append", "APP"}, merged},
		{"H2 inline remove", inlineMergeYAML, []string{"endpoint", "web-2", "profile", "remove", "WEB"}, inline},
		{"H2 inline set none", inlineMergeYAML, []string{"endpoint", "web-2", "profile", "set"}, inline},
		{"M1 append", mergedLabYAML, []string{"endpoint", "web-1", "profile", "append", "APP"}, anchored},
		{"M1 remove", mergedLabYAML, []string{"endpoint", "web-1", "profile", "remove", "WEB"}, anchored},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := sharedRepo(t, c.file)
			runSteps(t, r, []step{{name: c.name, args: c.args, code: 1, stderr: c.stderr, unchanged: true}})
			if got := r.run("", "endpoint", "web-2", "profile", "show"); !strings.Contains(got.stdout, "WEB") || strings.Contains(got.stdout, "APP") {
				t.Errorf("web-2 profiles now:\n%s", got.stdout)
			}
		})
	}
	// app-1 is shared with nothing: its edit goes through and touches nothing else.
	r := sharedRepo(t, mergedLabYAML)
	runSteps(t, r, []step{{name: "app-1", args: []string{"endpoint", "app-1", "profile", "append", "WEB"}, stdout: "Profile(s) WEB appended.\n\n", check: func(t *testing.T, r *repo) {
		if got, want := r.read("endpoints/lab.yaml"), strings.Replace(mergedLabYAML, "profile_ids: [APP]}", "profile_ids: [APP, WEB]}", 1); got != want {
			t.Errorf("got\n%s\nwant\n%s", got, want)
		}
	}}})
}

func TestProfileEditThroughMergeKey(t *testing.T) {
	const merged = "id: P\n<<: {tags: [P], inbound_rules: [{action: allow, src_tag: P}]}\noutbound_rules:\n  - &out {action: allow}\n  - {<<: *out, protocol: tcp}\n"
	for _, c := range []struct {
		name   string
		args   []string
		stderr string
	}{
		{"tag add", []string{"profile", "P", "tag", "add", "Q"}, "reconcile: profiles/P.yaml:2:1: cannot edit the file in place: tags: the profile gets it through a merge key (<<), which this edit cannot change: write tags: in the profile itself first; nothing was written\n"},
		{"tag remove", []string{"profile", "P", "tag", "remove", "P"}, "reconcile: profiles/P.yaml:2:1: cannot edit the file in place: tags: the profile gets it through a merge key"},
		{"rule add", []string{"profile", "P", "rule", "add", "inbound", "deny"}, "reconcile: profiles/P.yaml:2:1: cannot edit the file in place: inbound_rules: the profile gets it through a merge key"},
		{"rule remove", []string{"profile", "P", "rule", "remove", "inbound", "--at=1"}, "reconcile: profiles/P.yaml:2:1: cannot edit the file in place: inbound_rules: the profile gets it through a merge key"},
		{"merged rule's anchor", []string{"profile", "P", "rule", "remove", "outbound", "--at=1"}, "reconcile: profiles/P.yaml:4:5: cannot edit the file in place: outbound_rules: &out is used by an alias (*out) elsewhere"},
	} {
		r := newRepo(t, map[string]string{"profiles/P.yaml": merged})
		runSteps(t, r, []step{{name: c.name, args: c.args, code: 1, stderr: c.stderr, unchanged: true}})
	}
	// The rule that merges may go; only its line goes.
	r := newRepo(t, map[string]string{"profiles/P.yaml": merged})
	runSteps(t, r, []step{{name: "remove merging rule", args: []string{"profile", "P", "rule", "remove", "outbound", "--at=2"}, stdout: "", check: func(t *testing.T, r *repo) {
		if got, want := r.read("profiles/P.yaml"), strings.Replace(merged, "  - {<<: *out, protocol: tcp}\n", "", 1); got != want {
			t.Errorf("got\n%s\nwant\n%s", got, want)
		}
	}}})
}

// L9: values that YAML 1.1 reads as booleans or numbers are quoted, in new files and edits.
func TestEditQuotesYAML11Values(t *testing.T) {
	r := labRepo(t)
	runSteps(t, r, []step{
		{name: "profile add yes", args: []string{"profile", "add", "yes"}, stdout: "Created profile yes\n", check: func(t *testing.T, r *repo) {
			want := "id: \"yes\"\ntags: [\"yes\"]\ninbound_rules:\n  - action: allow\n    src_tag: \"yes\"\noutbound_rules:\n  - action: allow\n"
			if got := r.read("profiles/yes.yaml"); got != want {
				t.Errorf("got\n%s\nwant\n%s", got, want)
			}
		}},
		{name: "tag add on", args: []string{"profile", "WEB", "tag", "add", "on"}, stdout: "Tag on added to profile WEB\n"},
		{name: "tag add 1_0", args: []string{"profile", "WEB", "tag", "add", "1_0"}, stdout: "Tag 1_0 added to profile WEB\n", check: func(t *testing.T, r *repo) {
			if got, want := r.read("profiles/WEB.yaml"), strings.Replace(webYAML, "tags: [WEB]", `tags: [WEB, "on", "1_0"]`, 1); got != want {
				t.Errorf("got\n%s\nwant\n%s", got, want)
			}
		}},
		{name: "endpoint append yes", args: []string{"endpoint", "client-1", "profile", "append", "yes"}, stdout: "Profile(s) yes appended.\n\n", check: func(t *testing.T, r *repo) {
			if got := r.read("endpoints/lab.yaml"); !strings.Contains(got, `profile_ids: ["yes"]`) {
				t.Errorf("got\n%s", got)
			}
		}},
	})
}

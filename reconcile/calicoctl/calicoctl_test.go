package calicoctl

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"syscall"
	"testing"

	"github.com/reconcile-dev/reconcile/reconcile/internal/testenv"
	"github.com/reconcile-dev/reconcile/schema"
)

// repo is a temporary repository checkout.
type repo struct {
	t   *testing.T
	dir string
}

func newRepo(t *testing.T, files map[string]string) *repo {
	t.Helper()
	dir := t.TempDir()
	testenv.WriteFiles(t, dir, files)
	return &repo{t: t, dir: dir}
}

// snapshot returns every file of the checkout.
func (r *repo) snapshot() map[string]string {
	r.t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(r.dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		rel, _ := filepath.Rel(r.dir, p)
		out[filepath.ToSlash(rel)] = string(b)
		return err
	})
	if err != nil {
		r.t.Fatal(err)
	}
	return out
}

func (r *repo) read(p string) string {
	r.t.Helper()
	b, err := os.ReadFile(filepath.Join(r.dir, filepath.FromSlash(p)))
	if err != nil {
		r.t.Fatal(err)
	}
	return string(b)
}

type result struct {
	code           int
	stdout, stderr string
}

func (r *repo) run(stdin string, args ...string) result {
	var out, errb bytes.Buffer
	env := Env{Dir: r.dir, Stdin: strings.NewReader(stdin), Stdout: &out, Stderr: &errb}
	var code int
	switch args[0] {
	case "profile":
		code = Profile(context.Background(), env, args[1:])
	case "endpoint":
		code = Endpoint(context.Background(), env, args[1:])
	default:
		r.t.Fatalf("unknown command %q", args[0])
	}
	return result{code, out.String(), errb.String()}
}

// profile loads a profile file of the checkout.
func (r *repo) profile(name string) *schema.Profile {
	r.t.Helper()
	p := "profiles/" + name + ".yaml"
	if _, err := os.Stat(filepath.Join(r.dir, p)); err != nil {
		p = "profiles/" + name + ".json"
	}
	prof, errs := schema.DecodeProfile(p, []byte(r.read(p)))
	if len(errs) > 0 {
		r.t.Fatalf("decode %s: %v", p, errs)
	}
	return prof
}

const webYAML = `id: WEB
tags: [WEB]
inbound_rules:
  - action: allow
    src_tag: WEB
outbound_rules:
  - action: allow
`

const appJSON = `{
  "id": "APP",
  "tags": ["APP"],
  "inbound_rules": [
    {
      "action": "allow",
      "src_tag": "APP"
    }
  ],
  "outbound_rules": [
    {
      "action": "allow"
    }
  ]
}
`

const labYAML = `# the lab
endpoints:
  - id: web-1
    host: node-1
    interface: caliweb1
    mac: "ee:ee:ee:ee:ee:01"
    ipv4_nets: [198.18.1.2/32]
    ipv6_nets: [fd00:1::2/128]
    profile_ids: [WEB]
    state: active
  - id: client-1
    host: node-2
    interface: calicli1
    ipv4_nets: [198.18.1.4/32]
    ipv6_nets: []
    profile_ids: []
    state: active
`

func labRepo(t *testing.T) *repo {
	return newRepo(t, map[string]string{
		"profiles/WEB.yaml":  webYAML,
		"profiles/APP.json":  appJSON,
		"endpoints/lab.yaml": labYAML,
		"README.md":          "not a repository file\n",
	})
}

// step is one command with its expected outcome. files, when set, are checked after the
// command; unchanged asserts that the command wrote nothing.
type step struct {
	name      string
	args      []string
	stdin     string
	code      int
	stdout    string
	stderr    string // a substring; "" means stderr must be empty
	unchanged bool
	check     func(t *testing.T, r *repo)
}

func runSteps(t *testing.T, r *repo, steps []step) {
	t.Helper()
	for _, s := range steps {
		before := r.snapshot()
		got := r.run(s.stdin, s.args...)
		if got.code != s.code {
			t.Errorf("%s: %q: exit %d, want %d\nstdout:\n%s\nstderr:\n%s", s.name, s.args, got.code, s.code, got.stdout, got.stderr)
		}
		if got.stdout != s.stdout {
			t.Errorf("%s: %q: stdout\n%q\nwant\n%q", s.name, s.args, got.stdout, s.stdout)
		}
		if s.stderr == "" && got.stderr != "" {
			t.Errorf("%s: %q: unexpected stderr %q", s.name, s.args, got.stderr)
		}
		if s.stderr != "" && !strings.Contains(got.stderr, s.stderr) {
			t.Errorf("%s: %q: stderr %q does not contain %q", s.name, s.args, got.stderr, s.stderr)
		}
		if s.unchanged && !reflect.DeepEqual(before, r.snapshot()) {
			t.Errorf("%s: %q: the repository changed", s.name, s.args)
		}
		if s.check != nil {
			s.check(t, r)
		}
	}
}

const profileNameMsg = "Profile names must be < 40 character long and can only contain numbers, letters,\ndots, dashes and underscores.\n\n"
const tagNameMsg = "Tags names can only contain numbers, letters, dots, dashes and underscores.\n\n"

func TestProfileAddRemoveShow(t *testing.T) {
	r := labRepo(t)
	runSteps(t, r, []step{
		{name: "show", args: []string{"profile", "show"}, stdout: "+------+\n| Name |\n+------+\n| APP  |\n| WEB  |\n+------+\n", unchanged: true},
		{name: "show detailed", args: []string{"profile", "show", "--detailed"}, unchanged: true, stdout: "" +
			"+------+--------+-------------+-----------+--------+\n" +
			"| Name |  Host  | Endpoint ID | Interface | State  |\n" +
			"+------+--------+-------------+-----------+--------+\n" +
			"| APP  |  None  |     None    |    None   |  None  |\n" +
			"| WEB  | node-1 |    web-1    |  caliweb1 | active |\n" +
			"+------+--------+-------------+-----------+--------+\n"},
		{name: "add", args: []string{"profile", "add", "DB"}, stdout: "Created profile DB\n", check: func(t *testing.T, r *repo) {
			want := "id: DB\ntags: [DB]\ninbound_rules:\n  - action: allow\n    src_tag: DB\noutbound_rules:\n  - action: allow\n"
			if got := r.read("profiles/DB.yaml"); got != want {
				t.Errorf("profiles/DB.yaml:\n%s\nwant\n%s", got, want)
			}
		}},
		{name: "add exists", args: []string{"profile", "add", "DB"}, stdout: "Profile DB already exists.\n", unchanged: true},
		{name: "add exists as json", args: []string{"profile", "add", "APP"}, stdout: "Profile APP already exists.\n", unchanged: true},
		{name: "add bad name", args: []string{"profile", "add", "a/b"}, code: 1, stdout: profileNameMsg, unchanged: true},
		{name: "remove in use", args: []string{"profile", "remove", "WEB"}, unchanged: true,
			stdout: "Cannot remove profile - profile in use by endpoint(s).\nUse the '--no-check' flag to remove the profile anyway.\n"},
		{name: "remove", args: []string{"profile", "remove", "DB"}, stdout: "Deleted profile DB\n", check: func(t *testing.T, r *repo) {
			if _, ok := r.snapshot()["profiles/DB.yaml"]; ok {
				t.Error("profiles/DB.yaml still exists")
			}
		}},
		{name: "remove json", args: []string{"profile", "remove", "APP"}, stdout: "Deleted profile APP\n"},
		{name: "remove missing", args: []string{"profile", "remove", "DB"}, stdout: "Profile DB not found.\n", unchanged: true},
		{name: "remove in use, no check", args: []string{"profile", "remove", "--no-check", "WEB"}, stdout: "Deleted profile WEB\n",
			stderr: `endpoint(s) web-1 still list profile "WEB"`},
		{name: "show empty", args: []string{"profile", "show"}, stdout: "+------+\n| Name |\n+------+\n+------+\n", unchanged: true},
	})
}

func TestProfileAddCreatesProfilesDir(t *testing.T) {
	r := newRepo(t, nil)
	runSteps(t, r, []step{{name: "add", args: []string{"profile", "add", "WEB"}, stdout: "Created profile WEB\n"}})
	if got := r.read("profiles/WEB.yaml"); got != "id: WEB\ntags: [WEB]\ninbound_rules:\n  - action: allow\n    src_tag: WEB\noutbound_rules:\n  - action: allow\n" {
		t.Fatalf("profiles/WEB.yaml:\n%s", got)
	}
}

// TestWriteKeepsPermissions: a command that rewrites a file keeps its permission bits (as
// calicoctl's in-place edits would); a file it creates gets 0644 whatever the umask.
func TestWriteKeepsPermissions(t *testing.T) {
	old := syscall.Umask(0o077)
	defer syscall.Umask(old)
	r := labRepo(t)
	web := filepath.Join(r.dir, "profiles", "WEB.yaml")
	if err := os.Chmod(web, 0o600); err != nil {
		t.Fatal(err)
	}
	runSteps(t, r, []step{
		{name: "tag add", args: []string{"profile", "WEB", "tag", "add", "T1"}, stdout: "Tag T1 added to profile WEB\n"},
		{name: "add", args: []string{"profile", "add", "DB"}, stdout: "Created profile DB\n"},
	})
	for name, want := range map[string]os.FileMode{web: 0o600, filepath.Join(r.dir, "profiles", "DB.yaml"): 0o644} {
		st, err := os.Stat(name)
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode().Perm() != want {
			t.Errorf("%s: mode %v, want %v", name, st.Mode().Perm(), want)
		}
	}
	entries, err := os.ReadDir(filepath.Join(r.dir, "profiles"))
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 3 {
		t.Errorf("profiles/ holds %v, want APP.json, DB.yaml, WEB.yaml (no temporary files)", entries)
	}
}

func TestProfileTags(t *testing.T) {
	r := labRepo(t)
	runSteps(t, r, []step{
		{name: "show", args: []string{"profile", "WEB", "tag", "show"}, stdout: "WEB\n", unchanged: true},
		{name: "add", args: []string{"profile", "WEB", "tag", "add", "APP_7890"}, stdout: "Tag APP_7890 added to profile WEB\n"},
		{name: "add again (a set)", args: []string{"profile", "WEB", "tag", "add", "APP_7890"}, stdout: "Tag APP_7890 added to profile WEB\n", unchanged: true},
		{name: "add to json", args: []string{"profile", "APP", "tag", "add", "X.y-z"}, stdout: "Tag X.y-z added to profile APP\n", check: func(t *testing.T, r *repo) {
			if got := r.read("profiles/APP.json"); !strings.Contains(got, `"tags": ["APP", "X.y-z"],`) {
				t.Errorf("APP.json:\n%s", got)
			}
		}},
		{name: "show in file order", args: []string{"profile", "WEB", "tag", "show"}, stdout: "WEB\nAPP_7890\n", unchanged: true},
		{name: "add bad tag (validated, unlike calicoctl)", args: []string{"profile", "WEB", "tag", "add", "no good"}, code: 1, stdout: tagNameMsg, unchanged: true},
		{name: "remove", args: []string{"profile", "WEB", "tag", "remove", "WEB"}, stdout: "Tag WEB removed from profile WEB\n"},
		{name: "remove absent", args: []string{"profile", "WEB", "tag", "remove", "WEB"}, code: 1, stdout: "Tag WEB is not on profile WEB\n", unchanged: true},
		{name: "show after", args: []string{"profile", "WEB", "tag", "show"}, stdout: "APP_7890\n", unchanged: true},
		{name: "missing profile show", args: []string{"profile", "NOPE", "tag", "show"}, code: 1, stdout: "Profile NOPE not found.\n", unchanged: true},
		{name: "missing profile add", args: []string{"profile", "NOPE", "tag", "add", "T"}, code: 1, stdout: "Profile NOPE not found.\n", unchanged: true},
		{name: "missing profile remove", args: []string{"profile", "NOPE", "tag", "remove", "T"}, code: 1, stdout: "Profile NOPE not found.\n", unchanged: true},
		{name: "bad profile name", args: []string{"profile", "N@PE", "tag", "show"}, code: 1, stdout: profileNameMsg, unchanged: true},
	})
}

func TestProfileRules(t *testing.T) {
	r := labRepo(t)
	show := func(in, out string) string { return "Inbound rules:\n" + in + "Outbound rules:\n" + out }
	runSteps(t, r, []step{
		{name: "show", args: []string{"profile", "WEB", "rule", "show"}, stdout: show("   1 allow from tag WEB\n", "   1 allow\n"), unchanged: true},
		{name: "remove at 1", args: []string{"profile", "WEB", "rule", "remove", "inbound", "--at=1"}},
		{name: "add", args: strings.Fields("profile WEB rule add inbound allow tcp to ports 80,443")},
		{name: "add icmp", args: strings.Fields("profile WEB rule add inbound allow icmp type 8")},
		{name: "add at front", args: strings.Fields("profile WEB rule add inbound --at=1 deny from cidr 198.18.9.9")},
		{name: "add at, space form", args: strings.Fields("profile WEB rule add outbound --at 1 log prefix OUT: ipv6 tcp not udp")},
		{name: "show all", args: []string{"profile", "WEB", "rule", "show"}, unchanged: true, stdout: show(
			"   1 deny from cidr 198.18.9.9/32\n   2 allow tcp to ports 80,443\n   3 allow icmp type 8\n",
			"   1 log prefix OUT: ipv6 tcp not udp\n   2 allow\n")},
		{name: "duplicate", args: strings.Fields("profile WEB rule add inbound allow tcp to ports 80,443"), stdout: "Rule already present, skipping.\n", unchanged: true},
		{name: "duplicate, same network", args: strings.Fields("profile WEB rule add inbound deny from cidr 198.18.9.9/32"), stdout: "Rule already present, skipping.\n", unchanged: true},
		{name: "add out of range", args: strings.Fields("profile WEB rule add inbound --at=5 allow"), code: 1, stdout: "Position 5 is out-of-range.\n", unchanged: true},
		{name: "add at 0", args: strings.Fields("profile WEB rule add inbound --at=0 allow"), code: 1, stdout: "Position 0 is out-of-range.\n", unchanged: true},
		{name: "add at -5", args: strings.Fields("profile WEB rule add inbound --at=-5 allow"), code: 1, stdout: "Position -5 is out-of-range.\n", unchanged: true},
		{name: "add at end+1", args: strings.Fields("profile WEB rule add inbound --at=4 allow udp")},
		{name: "add at non-integer", args: strings.Fields("profile WEB rule add inbound --at=x allow"), code: 1, stderr: "must be an integer", unchanged: true},
		{name: "remove out of range", args: strings.Fields("profile WEB rule remove inbound --at=5"), code: 1, stdout: "Position 5 is out-of-range.\n", unchanged: true},
		{name: "remove by rule", args: strings.Fields("profile WEB rule remove inbound allow udp")},
		{name: "remove by rule, not found", args: strings.Fields("profile WEB rule remove inbound allow udp"), code: 1, stdout: "Rule not found.\n", unchanged: true},
		{name: "remove by shown text", args: strings.Fields("profile WEB rule remove outbound log prefix OUT: ipv6 tcp not udp")},
		{name: "remove needs one of --at or a rule", args: strings.Fields("profile WEB rule remove inbound --at=1 allow"), code: 1, stderr: "either --at", unchanged: true},
		{name: "show after", args: []string{"profile", "WEB", "rule", "show"}, unchanged: true, stdout: show(
			"   1 deny from cidr 198.18.9.9/32\n   2 allow tcp to ports 80,443\n   3 allow icmp type 8\n", "   1 allow\n")},
		{name: "missing profile", args: strings.Fields("profile NOPE rule add inbound allow"), code: 1, stdout: "Profile NOPE not found.\n", unchanged: true},
		{name: "missing profile show", args: strings.Fields("profile NOPE rule show"), code: 1, stdout: "Profile NOPE not found.\n", unchanged: true},
		{name: "missing profile json", args: strings.Fields("profile NOPE rule json"), code: 1, stdout: "Profile NOPE not found.\n", unchanged: true},
		{name: "missing profile update", args: strings.Fields("profile NOPE rule update"), code: 1, stdout: "Profile NOPE not found.\n", unchanged: true},
	})
	// The file keeps the fixed key order and flow lists.
	want := `id: WEB
tags: [WEB]
inbound_rules:
  - action: deny
    src_net: 198.18.9.9/32
  - action: allow
    protocol: tcp
    dst_ports: [80, 443]
  - action: allow
    protocol: icmp
    icmp_type: 8
outbound_rules:
  - action: allow
`
	if got := r.read("profiles/WEB.yaml"); got != want {
		t.Fatalf("profiles/WEB.yaml:\n%s\nwant\n%s", got, want)
	}
}

func TestRuleArgumentValidation(t *testing.T) {
	r := labRepo(t)
	runSteps(t, r, []step{
		{name: "bad tag", args: strings.Fields("profile WEB rule add inbound allow from tag a$b"), code: 1, stdout: tagNameMsg, unchanged: true},
		{name: "bad cidr", args: strings.Fields("profile WEB rule add inbound allow from cidr 198.18.0.0/33"), code: 1, stdout: "Invalid CIDR specified.\n", unchanged: true},
		{name: "bad icmp", args: strings.Fields("profile WEB rule add inbound allow icmp type 255"), code: 1, stdout: "Invalid ICMP type or ICMP code specified.\n", unchanged: true},
		{name: "bad icmp code", args: strings.Fields("profile WEB rule add inbound allow icmp type 3 code x"), code: 1, stdout: "Invalid ICMP type or ICMP code specified.\n", unchanged: true},
		{name: "bad ports", args: strings.Fields("profile WEB rule add inbound allow tcp to ports 80-90"), code: 1, stdout: "Invalid SRCPORTS or DSTPORTS specified.\n", unchanged: true},
		{name: "reversed range", args: strings.Fields("profile WEB rule add inbound allow tcp to ports 90:80"), code: 1, stdout: "Invalid SRCPORTS or DSTPORTS specified.\n", unchanged: true},
		{name: "mixed families", args: strings.Fields("profile WEB rule add inbound allow from cidr 198.18.0.0/15 to cidr fd00::/8"), code: 1, stdout: "Invalid or unmatching IP versions for SRCCIDR/DSTCIDR.\n", unchanged: true},
		{name: "icmp with a v6 cidr", args: strings.Fields("profile WEB rule add inbound allow icmp from cidr fd00::/8"), code: 1, stdout: "Invalid or unmatching IP versions for SRCCIDR/DSTCIDR.\n", unchanged: true},
		{name: "every message, in calicoctl's order", args: strings.Fields("profile W!EB rule add inbound allow tcp from ports x tag ? cidr nope"), code: 1,
			stdout: profileNameMsg + tagNameMsg + "Invalid CIDR specified.\nInvalid SRCPORTS or DSTPORTS specified.\n", unchanged: true},
		{name: "syntax error", args: strings.Fields("profile WEB rule add inbound allow to tag A from tag B"), code: 1, stderr: `invalid rule "allow to tag A from tag B": unexpected "from"`, unchanged: true},
		{name: "ports without a port protocol", args: strings.Fields("profile WEB rule add inbound allow icmp to ports 80"), code: 1, stderr: "ports need protocol", unchanged: true},
		{name: "semantic error from the validator", args: strings.Fields("profile WEB rule add inbound allow ipv6 from cidr 198.18.0.0/15"), code: 1, stderr: "invalid rule", unchanged: true},
		{name: "unknown action", args: strings.Fields("profile WEB rule add inbound accept"), code: 1, stderr: `unknown action "accept"`, unchanged: true},
		{name: "no direction", args: strings.Fields("profile WEB rule add allow"), code: 1, stderr: "inbound or outbound", unchanged: true},
		{name: "unknown option", args: strings.Fields("profile WEB rule add inbound --force allow"), code: 1, stderr: `unknown option "--force"`, unchanged: true},
		{name: "option of another command", args: strings.Fields("profile show --no-check"), code: 1, stderr: "only --detailed", unchanged: true},
		{name: "no command", args: []string{"profile"}, code: 1, stderr: "Usage:", unchanged: true},
		{name: "help", args: []string{"profile", "--help"}, stdout: ProfileUsage, unchanged: true},
	})
}

func TestRuleJSONAndUpdate(t *testing.T) {
	r := labRepo(t)
	appRules := testenv.SeedFile(t, "APP-rules.json")
	wantJSON := `{
  "inbound_rules": [
    {
      "action": "allow", 
      "protocol": "tcp", 
      "src_tag": "APP_7890", 
      "dst_ports": [
        7890
      ]
    }, 
    {
      "action": "allow", 
      "protocol": "icmp", 
      "icmp_type": 8
    }
  ], 
  "outbound_rules": [
    {
      "action": "allow"
    }
  ]
}

`
	runSteps(t, r, []step{
		{name: "json", args: strings.Fields("profile WEB rule json"), unchanged: true,
			stdout: "{\n  \"inbound_rules\": [\n    {\n      \"action\": \"allow\", \n      \"src_tag\": \"WEB\"\n    }\n  ], \n  \"outbound_rules\": [\n    {\n      \"action\": \"allow\"\n    }\n  ]\n}\n\n"},
		{name: "update with id", args: strings.Fields("profile APP rule update"), stdin: appRules, stdout: "Successfully updated rules on profile APP\n"},
		{name: "json after update", args: strings.Fields("profile APP rule json"), stdout: wantJSON, unchanged: true},
		{name: "update without id (rule json's own output)", args: strings.Fields("profile WEB rule update"), stdin: wantJSON, stdout: "Successfully updated rules on profile WEB\n"},
		{name: "id mismatch", args: strings.Fields("profile WEB rule update"), stdin: appRules, code: 1, stdout: "Rules JSON \"id\"=APP doesn't match profile name WEB.\n", unchanged: true},
		{name: "unknown key", args: strings.Fields("profile WEB rule update"), stdin: `{"inbound_rules": [{"action": "allow", "portz": [1]}], "outbound_rules": []}`, code: 1, stderr: "portz", unchanged: true},
		{name: "bad value", args: strings.Fields("profile WEB rule update"), stdin: `{"inbound_rules": [{"action": "accept"}], "outbound_rules": []}`, code: 1, stderr: "accept", unchanged: true},
		{name: "missing direction", args: strings.Fields("profile WEB rule update"), stdin: `{"inbound_rules": []}`, code: 1, stderr: "outbound_rules", unchanged: true},
		{name: "not JSON", args: strings.Fields("profile WEB rule update"), stdin: `{"inbound_rules": [`, code: 1, stderr: "invalid rules JSON", unchanged: true},
		{name: "empty stdin", args: strings.Fields("profile WEB rule update"), stdin: "", code: 1, stderr: "invalid rules JSON", unchanged: true},
	})
	if p := r.profile("APP"); len(p.Inbound) != 2 || p.Inbound[0].SrcTag != "APP_7890" || !reflect.DeepEqual(p.Tags, []string{"APP"}) {
		t.Fatalf("APP after update: %+v", p)
	}
	if p, q := r.profile("WEB"), r.profile("APP"); !sameRuleLists(p.Inbound, q.Inbound) || !sameRuleLists(p.Outbound, q.Outbound) {
		t.Fatalf("WEB's rules are not APP's after feeding APP's rule json to WEB")
	}
	if got := r.read("profiles/APP.json"); !strings.HasPrefix(got, "{\n  \"id\": \"APP\",\n") {
		t.Fatalf("APP.json is no longer JSON:\n%s", got)
	}
}

func sameRuleLists(a, b []schema.Rule) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !SameAs(a[i], b[i]) {
			return false
		}
	}
	return true
}

func TestEditsKeepRepositoryValid(t *testing.T) {
	r := labRepo(t)
	runSteps(t, r, []step{
		// The validator rejects icmp_type 255 even where calicoctl's argument check would not
		// be reached (rules JSON).
		{name: "update with an invalid rule", args: strings.Fields("profile WEB rule update"),
			stdin: `{"inbound_rules": [{"action": "allow", "protocol": "icmp", "icmp_type": 255}], "outbound_rules": []}`, code: 1, stderr: "icmp_type", unchanged: true},
		// A tag the validator rejects never reaches the file.
		{name: "endpoint set to a profile list with a bad name", args: strings.Fields("endpoint web-1 profile set WEB bad!"), code: 1, stdout: profileNameMsg, unchanged: true},
	})
	bad := newRepo(t, map[string]string{"profiles/BAD.yaml": "id: BAD\ntags: [BAD]\ninbound_rules: []\noutbound_rules: []\nextra: 1\n"})
	runSteps(t, bad, []step{
		{name: "invalid profile file is not edited", args: strings.Fields("profile BAD tag add X"), code: 1, stderr: "not valid; fix it first", unchanged: true},
	})
	// An invalid file elsewhere does not block an edit that adds no error.
	other := newRepo(t, map[string]string{"profiles/WEB.yaml": webYAML, "profiles/BAD.yaml": "id: OTHER\n"})
	runSteps(t, other, []step{
		{name: "unrelated error", args: strings.Fields("profile WEB tag add APP"), stdout: "Tag APP added to profile WEB\n"},
	})
}

func TestEndpointProfiles(t *testing.T) {
	r := labRepo(t)
	runSteps(t, r, []step{
		{name: "show", args: strings.Fields("endpoint web-1 profile show"), stdout: "+------+\n| Name |\n+------+\n| WEB  |\n+------+\n\n", unchanged: true},
		{name: "show none", args: strings.Fields("endpoint client-1 profile show"), stdout: "Endpoint has no profiles associated with it.\n", unchanged: true},
		{name: "show unknown", args: strings.Fields("endpoint nope profile show"), code: 1, stdout: "Failed to list profiles in endpoint.\n\nEndpoint nope is unknown to Calico.\n\n", unchanged: true},
		{name: "show on another host", args: strings.Fields("endpoint web-1 profile show --host=node-2"), code: 1, stdout: "Failed to list profiles in endpoint.\n\nEndpoint web-1 is unknown to Calico.\n\n", unchanged: true},
		{name: "append", args: strings.Fields("endpoint web-1 profile append APP"), stdout: "Profile(s) APP appended.\n\n", check: func(t *testing.T, r *repo) {
			if got := r.read("endpoints/lab.yaml"); !strings.Contains(got, "profile_ids: [WEB, APP]") || !strings.HasPrefix(got, "# the lab\n") {
				t.Errorf("lab.yaml:\n%s", got)
			}
		}},
		{name: "show sorted", args: strings.Fields("endpoint web-1 profile show --host node-1"), stdout: "+------+\n| Name |\n+------+\n| APP  |\n| WEB  |\n+------+\n\n", unchanged: true},
		{name: "append present", args: strings.Fields("endpoint web-1 profile append APP"), stdout: "Profile APP is already in endpoint profile list\n\n", unchanged: true},
		{name: "append unknown profile", args: strings.Fields("endpoint web-1 profile append NOPE"), code: 1, stdout: "Profile with name NOPE was not found.\n", unchanged: true},
		{name: "append twice", args: strings.Fields("endpoint client-1 profile append WEB WEB"), code: 1, stdout: "Profile with name WEB was specified more than once.\n", unchanged: true},
		{name: "append bad name", args: strings.Fields("endpoint client-1 profile append W/EB"), code: 1, stdout: profileNameMsg, unchanged: true},
		{name: "append nothing", args: strings.Fields("endpoint client-1 profile append"), stdout: "No profile specified.\n\n", unchanged: true},
		{name: "append unknown endpoint", args: strings.Fields("endpoint nope profile append WEB"), code: 1, stdout: "Failed to append profiles to endpoint.\n\nEndpoint nope is unknown to Calico.\n\n", unchanged: true},
		{name: "remove", args: strings.Fields("endpoint web-1 profile remove WEB APP"), stdout: "Profile(s) WEB,APP removed.\n\n"},
		{name: "remove absent", args: strings.Fields("endpoint web-1 profile remove WEB"), stdout: "Profile WEB is not in endpoint profile list.\n\n", unchanged: true},
		{name: "remove nothing", args: strings.Fields("endpoint web-1 profile remove"), stdout: "No profile specified.\n\n", unchanged: true},
		{name: "remove unknown endpoint", args: strings.Fields("endpoint nope profile remove WEB"), code: 1, stdout: "Failed to remove profiles from endpoint.\n\nEndpoint could not be found.\n\n", unchanged: true},
		{name: "set", args: strings.Fields("endpoint client-1 profile set APP WEB"), stdout: "Profile(s) set to APP, WEB.\n\n", check: func(t *testing.T, r *repo) {
			if got := r.read("endpoints/lab.yaml"); !strings.Contains(got, "profile_ids: [APP, WEB]") {
				t.Errorf("lab.yaml:\n%s", got)
			}
		}},
		{name: "set empty", args: strings.Fields("endpoint client-1 profile set"), stdout: "Removed all profiles from endpoint.\n\n"},
		{name: "set unknown endpoint", args: strings.Fields("endpoint nope profile set"), code: 1, stdout: "Failed to set profiles for endpoint.\n\nEndpoint could not be found.\n\n", unchanged: true},
		{name: "unknown verb", args: strings.Fields("endpoint web-1 profile add WEB"), code: 1, stderr: "Usage:", unchanged: true},
	})
}

func TestEndpointShow(t *testing.T) {
	r := labRepo(t)
	runSteps(t, r, []step{
		{name: "summary", args: strings.Fields("endpoint show"), unchanged: true, stdout: "" +
			"+----------+---------------------+\n" +
			"| Hostname | Number of Endpoints |\n" +
			"+----------+---------------------+\n" +
			"|  node-1  |          1          |\n" +
			"|  node-2  |          1          |\n" +
			"+----------+---------------------+\n\n"},
		{name: "detailed on a host", args: strings.Fields("endpoint show --detailed --host=node-1"), unchanged: true, stdout: "" +
			"+----------+-------------+-----------+---------------+-------------------+----------+--------+\n" +
			"| Hostname | Endpoint ID | Interface |   Addresses   |        MAC        | Profiles | State  |\n" +
			"+----------+-------------+-----------+---------------+-------------------+----------+--------+\n" +
			"|  node-1  |    web-1    |  caliweb1 | 198.18.1.2/32 | ee:ee:ee:ee:ee:01 |   WEB    | active |\n" +
			"|          |             |           | fd00:1::2/128 |                   |          |        |\n" +
			"+----------+-------------+-----------+---------------+-------------------+----------+--------+\n\n"},
		{name: "by endpoint", args: strings.Fields("endpoint show --endpoint client-1 --detailed"), unchanged: true, stdout: "" +
			"+----------+-------------+-----------+---------------+------+----------+--------+\n" +
			"| Hostname | Endpoint ID | Interface |   Addresses   | MAC  | Profiles | State  |\n" +
			"+----------+-------------+-----------+---------------+------+----------+--------+\n" +
			"|  node-2  |   client-1  |  calicli1 | 198.18.1.4/32 | None |          | active |\n" +
			"+----------+-------------+-----------+---------------+------+----------+--------+\n\n"},
	})
}

func TestDirOption(t *testing.T) {
	r := labRepo(t)
	var out bytes.Buffer
	code := Profile(context.Background(), Env{Dir: "/nonexistent", Stdout: &out, Stderr: &out}, []string{"WEB", "--dir", r.dir, "tag", "show"})
	if code != 0 || out.String() != "WEB\n" {
		t.Fatalf("--dir in the middle: exit %d, output %q", code, out.String())
	}
	out.Reset()
	code = Profile(context.Background(), Env{Dir: "/nonexistent", Stdout: &out, Stderr: &out}, []string{"show"})
	if code != 1 || !strings.Contains(out.String(), "/nonexistent") {
		t.Fatalf("missing directory: exit %d, output %q", code, out.String())
	}
}

func TestWrap(t *testing.T) {
	// Expected values from Python 3's textwrap.wrap(msg, 80).
	tests := []struct {
		in   string
		want []string
	}{
		{msgProfileName, []string{"Profile names must be < 40 character long and can only contain numbers, letters,", "dots, dashes and underscores."}},
		{"More than 1 endpoint matches the provided criteria.  Please provide additional parameters to refine the search.",
			[]string{"More than 1 endpoint matches the provided criteria.  Please provide additional", "parameters to refine the search."}},
		{"Endpoint x is unknown to Calico.\n", []string{"Endpoint x is unknown to Calico."}},
		{"short", []string{"short"}},
	}
	for _, tt := range tests {
		if got := wrap(tt.in, 80); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("wrap(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestCentre(t *testing.T) {
	// PrettyTable's centring: the odd space goes right for odd-length text, left for even.
	for _, tt := range []struct {
		s    string
		w    int
		want string
	}{{"x", 4, " x  "}, {"ab", 5, "  ab "}, {"Name", 10, "   Name   "}, {"PROF_B", 10, "  PROF_B  "}, {"abc", 3, "abc"}} {
		if got := centre(tt.s, tt.w); got != tt.want {
			t.Errorf("centre(%q, %d) = %q, want %q", tt.s, tt.w, got, tt.want)
		}
	}
	// calicoctl's documented `profile show` example.
	tb := &table{header: []string{"Name"}}
	tb.add("PROF_B")
	tb.add("PROF_A_C_E")
	want := "+------------+\n|    Name    |\n+------------+\n| PROF_A_C_E |\n|   PROF_B   |\n+------------+"
	if got := tb.String(0); got != want {
		t.Fatalf("table:\n%s\nwant\n%s", got, want)
	}
}

func TestInvalidRepositories(t *testing.T) {
	dupEndpoint := strings.Replace(labYAML, "id: client-1", "id: web-1", 1)
	r := newRepo(t, map[string]string{"profiles/WEB.yaml": webYAML, "profiles/WEB.json": strings.ReplaceAll(appJSON, "APP", "WEB"), "endpoints/lab.yaml": dupEndpoint})
	runSteps(t, r, []step{
		{name: "two endpoints match", args: strings.Fields("endpoint web-1 profile show"), code: 1, unchanged: true,
			stdout: "More than 1 endpoint matches the provided criteria.  Please provide additional\nparameters to refine the search.\n\n"},
		{name: "the host filter picks one", args: strings.Fields("endpoint web-1 profile show --host=node-2"), unchanged: true,
			stdout: "Endpoint has no profiles associated with it.\n"},
		{name: "profile in two files", args: strings.Fields("profile WEB tag show"), code: 1, stderr: "defined twice", unchanged: true},
		{name: "show lists it once", args: strings.Fields("profile show"), stdout: "+------+\n| Name |\n+------+\n| WEB  |\n+------+\n", unchanged: true},
	})
	empty := newRepo(t, nil)
	runSteps(t, empty, []step{
		{name: "no endpoints", args: strings.Fields("endpoint show"), unchanged: true,
			stdout: "+----------+---------------------+\n| Hostname | Number of Endpoints |\n+----------+---------------------+\n+----------+---------------------+\n\n"},
	})
}

func TestExtendedRules(t *testing.T) {
	r := newRepo(t, map[string]string{"profiles/X.yaml": `id: X
tags: [X]
inbound_rules:
  - action: log
    log_prefix: "in:"
    protocol: tcp
    ip_version: 6
    "!src_net": fd00::/8
    dst_ports: [22, "8000:8080"]
  - action: allow
    protocol: 132
outbound_rules: []
`})
	runSteps(t, r, []step{
		{name: "show", args: strings.Fields("profile X rule show"), unchanged: true,
			stdout: "Inbound rules:\n   1 log prefix in: ipv6 tcp from not cidr fd00::/8 to ports 22,8000:8080\n   2 allow 132\nOutbound rules:\n"},
		{name: "json", args: strings.Fields("profile X rule json"), unchanged: true, stdout: `{
  "inbound_rules": [
    {
      "action": "log", 
      "protocol": "tcp", 
      "ip_version": 6, 
      "dst_ports": [
        22, 
        "8000:8080"
      ], 
      "!src_net": "fd00::/8", 
      "log_prefix": "in:"
    }, 
    {
      "action": "allow", 
      "protocol": 132
    }
  ], 
  "outbound_rules": []
}

`},
		{name: "the shown text removes the rule", args: strings.Fields("profile X rule remove inbound log prefix in: ipv6 tcp from not cidr fd00::/8 to ports 22,8000:8080")},
		{name: "the shown text adds it back", args: strings.Fields("profile X rule add inbound --at=1 log prefix in: ipv6 tcp from not cidr fd00::/8 to ports 22,8000:8080")},
		{name: "a log prefix the validator rejects", args: strings.Fields("profile X rule add outbound log prefix has/slash"), code: 1, stderr: "log_prefix", unchanged: true},
	})
}

// Profile names and tags are at most limits.MaxIDLen (64) bytes: calicoctl's messages speak of
// the characters only, so a longer name also gets a line naming the byte limit.
func TestIDLength(t *testing.T) {
	r := labRepo(t)
	id64, id65 := strings.Repeat("P", 64), strings.Repeat("P", 65)
	limit := "is 65 bytes; profile names and tags are at most 64"
	runSteps(t, r, []step{
		{name: "add 65", args: []string{"profile", "add", id65}, code: 1, stdout: profileNameMsg, stderr: limit, unchanged: true},
		{name: "add 64", args: []string{"profile", "add", id64}, stdout: "Created profile " + id64 + "\n"},
		{name: "tag 65", args: []string{"profile", "WEB", "tag", "add", id65}, code: 1, stdout: tagNameMsg, stderr: limit, unchanged: true},
		{name: "tag 64", args: []string{"profile", "WEB", "tag", "add", id64}, stdout: "Tag " + id64 + " added to profile WEB\n"},
		{name: "rule add 65", args: []string{"profile", id65, "rule", "add", "inbound", "allow"}, code: 1, stdout: profileNameMsg, stderr: limit, unchanged: true},
		{name: "endpoint set 65", args: []string{"endpoint", "web-1", "profile", "set", id65}, code: 1, stdout: profileNameMsg, stderr: limit, unchanged: true},
		{name: "bad characters: no byte-limit line", args: []string{"profile", "add", "a*b"}, code: 1, stdout: profileNameMsg, unchanged: true},
	})
}

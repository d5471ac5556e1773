package calicoctl

import (
	"strings"
	"testing"

	"github.com/reconcile-dev/reconcile/schema"
)

// TestEditRefusesYAMLDirective: the edit layer refuses a %YAML directive other than 1.2 with
// validate's message (schema TestYAMLDirectiveRefused has the decoder's).
func TestEditRefusesYAMLDirective(t *testing.T) {
	if _, err := EditEndpointProfiles("endpoints/lab.yaml", []byte("%YAML 1.1\n---\nendpoints: [{id: e, host: h, interface: i, profile_ids: []}]\n"), "e", "", []string{"WEB"}); err == nil ||
		err.Error() != "endpoints/lab.yaml:1:1: cannot edit the file in place: %YAML 1.1: the repository is read as YAML 1.2 (numbers are plain decimal, never octal 010 or sexagesimal 1:30): write %YAML 1.2 or remove the line" {
		t.Errorf("EditEndpointProfiles: %v", err)
	}
}

// The edits keep the directive and every byte around it.
func TestEditKeepsYAMLDirective(t *testing.T) {
	const head = "%YAML 1.2 # v\n---\n"
	const prof = head + "id: WEB\ntags: [WEB]\ninbound_rules:\n  - action: allow\noutbound_rules: []\n"
	for _, tt := range []struct {
		crlf bool
		edit func(p *schema.Profile)
		want string
	}{
		{false, func(p *schema.Profile) { p.Tags = append(p.Tags, "NEW") }, strings.Replace(prof, "[WEB]", "[WEB, NEW]", 1)},
		{true, func(p *schema.Profile) { p.Inbound = append([]schema.Rule{{Action: "deny"}}, p.Inbound...) }, strings.Replace(prof, "  - action: allow\n", "  - action: deny\n  - action: allow\n", 1)},
		{false, func(p *schema.Profile) { p.Inbound = nil }, strings.Replace(prof, "inbound_rules:\n  - action: allow\n", "inbound_rules: []\n", 1)},
	} {
		in, want := prof, tt.want
		if tt.crlf {
			in, want = strings.ReplaceAll(in, "\n", "\r\n"), strings.ReplaceAll(want, "\n", "\r\n")
		}
		p := decodeOK(t, "profiles/WEB.yaml", []byte(in))
		tt.edit(p)
		got, err := EditProfile("profiles/WEB.yaml", []byte(in), p)
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != want {
			t.Errorf("got\n%q\nwant\n%q", got, want)
		}
	}
	const lab = head + "endpoints:\n  - id: e1\n    host: h\n    interface: cali1\n    profile_ids: [WEB]\n"
	got, err := EditEndpointProfiles("endpoints/lab.yaml", []byte(lab), "e1", "", []string{"WEB", "APP"})
	if err != nil {
		t.Fatal(err)
	}
	if want := strings.Replace(lab, "[WEB]", "[WEB, APP]", 1); string(got) != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
}

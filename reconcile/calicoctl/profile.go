package calicoctl

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/reconcile-dev/reconcile/schema"
)

// ProfileUsage is the grammar of `reconcile profile`, printed on a usage error.
const ProfileUsage = `Usage:
  reconcile profile show [--detailed]
  reconcile profile add <PROFILE>
  reconcile profile remove <PROFILE> [--no-check]
  reconcile profile <PROFILE> tag show
  reconcile profile <PROFILE> tag (add|remove) <TAG>
  reconcile profile <PROFILE> rule add (inbound|outbound) [--at=<POSITION>] <RULE>
  reconcile profile <PROFILE> rule remove (inbound|outbound) (--at=<POSITION> | <RULE>)
  reconcile profile <PROFILE> rule show
  reconcile profile <PROFILE> rule json
  reconcile profile <PROFILE> rule update          (rules JSON on stdin)

  <RULE>: (allow|deny|log) [prefix <LOGPREFIX>] [ipv4|ipv6]
          [<PROTOCOL> [not <PROTOCOL>]] [type <ICMPTYPE> [code <ICMPCODE>]] [not type <ICMPTYPE> [code <ICMPCODE>]]
          [from [ports <SRCPORTS>] [tag <SRCTAG>] [cidr <SRCCIDR>] [not ports …] [not tag …] [not cidr …]]
          [to   [ports <DSTPORTS>] [tag <DSTTAG>] [cidr <DSTCIDR>] [not ports …] [not tag …] [not cidr …]]
  e.g.    allow tcp to ports 80,443
          allow icmp type 8
          deny from cidr 198.18.0.0/15
  Options may also be given as --at N. --dir PATH (default ".") may appear anywhere.
`

// Profile runs `reconcile profile ARGS` on the repository checkout and returns the exit code.
func Profile(ctx context.Context, env Env, args []string) int {
	c, err := newCmd(ctx, env, args, []string{"at"}, []string{"detailed", "no-check", "help"})
	if err != nil {
		return usageError(env.Stderr, err, ProfileUsage)
	}
	if c.has("help") || (len(c.args) == 1 && c.args[0] == "help") {
		fmt.Fprint(c.out, ProfileUsage)
		return 0
	}
	a := c.args
	switch {
	case len(a) == 0:
		return c.usage(ProfileUsage, "missing command")
	case a[0] == "show" && len(a) == 1:
		if !c.onlyOpts("detailed") {
			return c.usage(ProfileUsage, "only --detailed goes with show")
		}
		return c.profileShow(c.has("detailed"))
	case a[0] == "add" && len(a) == 2:
		if !c.onlyOpts() {
			return c.usage(ProfileUsage, "profile add takes no options")
		}
		if !c.validProfileName(a[1]) {
			return 1
		}
		return c.profileAdd(a[1])
	case a[0] == "remove" && len(a) == 2:
		if !c.onlyOpts("no-check") {
			return c.usage(ProfileUsage, "only --no-check goes with remove")
		}
		if !c.validProfileName(a[1]) {
			return 1
		}
		return c.profileRemove(a[1], c.has("no-check"))
	case len(a) < 3 || (a[1] != "tag" && a[1] != "rule"):
		return c.usage(ProfileUsage, fmt.Sprintf("unknown command %q", strings.Join(a, " ")))
	}
	if a[1] == "tag" {
		return c.tagCommand(a[0], a[2], a[3:])
	}
	return c.ruleCommand(a[0], a[2], a[3:])
}

// usage reports a usage error (why) and prints the grammar text.
func (c *cmd) usage(text, why string) int {
	return usageError(c.err, fmt.Errorf("%w: %s", errUsage, why), text)
}

// onlyOpts reports whether every option given (--dir aside) is one of names.
func (c *cmd) onlyOpts(names ...string) bool {
	for k := range c.opts {
		if k != "dir" && !slices.Contains(names, k) {
			return false
		}
	}
	return true
}

// tagCommand runs `profile NAME tag VERB REST...`.
func (c *cmd) tagCommand(name, verb string, rest []string) int {
	if !c.onlyOpts() {
		return c.usage(ProfileUsage, "tag commands take no options")
	}
	switch {
	case verb == "show" && len(rest) == 0:
		if !c.validProfileName(name) {
			return 1
		}
		return c.tagShow(name)
	case (verb == "add" || verb == "remove") && len(rest) == 1:
		if !c.validProfileName(name) {
			return 1
		}
		if verb == "add" {
			return c.tagAdd(name, rest[0])
		}
		return c.tagRemove(name, rest[0])
	}
	return c.usage(ProfileUsage, fmt.Sprintf("unknown tag command %q", strings.Join(append([]string{"tag", verb}, rest...), " ")))
}

// ruleCommand runs `profile NAME rule VERB REST...`.
func (c *cmd) ruleCommand(name, verb string, rest []string) int {
	switch verb {
	case "show", "json", "update":
		if len(rest) != 0 || !c.onlyOpts() {
			return c.usage(ProfileUsage, fmt.Sprintf("rule %s takes no arguments", verb))
		}
		if !c.validProfileName(name) {
			return 1
		}
		switch verb {
		case "show":
			return c.ruleShow(name)
		case "json":
			return c.ruleJSON(name)
		}
		return c.ruleUpdate(name)
	case "add", "remove":
		return c.ruleChange(name, verb, rest)
	}
	return c.usage(ProfileUsage, fmt.Sprintf("unknown rule command %q", verb))
}

// ruleChange runs `profile NAME rule (add|remove) (inbound|outbound) [--at=N] [RULE]`.
func (c *cmd) ruleChange(name, verb string, rest []string) int {
	if len(rest) == 0 || (rest[0] != "inbound" && rest[0] != "outbound") {
		return c.usage(ProfileUsage, fmt.Sprintf("rule %s needs inbound or outbound", verb))
	}
	if !c.onlyOpts("at") {
		return c.usage(ProfileUsage, fmt.Sprintf("only --at goes with rule %s", verb))
	}
	dir, words := rest[0], rest[1:]
	at, hasAt := c.opts["at"]
	switch {
	case verb == "add" && len(words) == 0:
		return c.usage(ProfileUsage, "rule add needs a rule")
	case verb == "remove" && hasAt == (len(words) > 0):
		return c.usage(ProfileUsage, "rule remove needs either --at=<POSITION> or a rule")
	}
	if !c.validArgs(name, words) {
		return 1
	}
	var rule schema.Rule
	if len(words) > 0 {
		r, code, ok := c.ruleOf(words)
		if !ok {
			return code
		}
		rule = r
	}
	pos := 0
	if hasAt {
		n, err := atoi(at)
		switch {
		case errors.Is(err, schema.ErrNotDecimal):
			return c.fail("--at: %v", err)
		case err != nil:
			return c.fail("--at=%s: the position must be an integer (1 is the first rule)", at)
		}
		pos = n
	}
	if verb == "add" {
		return c.ruleAdd(name, dir == "inbound", hasAt, pos, rule)
	}
	return c.ruleRemove(name, dir == "inbound", hasAt, pos, rule)
}

// ruleOf parses and validates the rule text words; when it is not a valid rule it prints why
// and returns the exit code.
func (c *cmd) ruleOf(words []string) (schema.Rule, int, bool) {
	r, err := ParseRule(words)
	if err != nil {
		return schema.Rule{}, usageError(c.err, fmt.Errorf("invalid rule %q: %w", strings.Join(words, " "), err), ProfileUsage), false
	}
	if errs := schema.ValidateRule("", r, ""); len(errs) > 0 {
		for _, e := range errs {
			fmt.Fprintf(c.err, "reconcile: invalid rule %q: %s\n", strings.Join(words, " "), e.Msg)
		}
		return schema.Rule{}, 1, false
	}
	return r, 0, true
}

// usageError reports a command line that does not fit the grammar (docopt printed the usage
// and exited 1).
func usageError(w io.Writer, err error, usage string) int {
	if w == nil {
		return 1
	}
	fmt.Fprintf(w, "reconcile: %v\n", err)
	if errors.Is(err, errUsage) || strings.HasPrefix(err.Error(), "invalid rule") {
		fmt.Fprint(w, usage)
	}
	return 1
}

// validProfileName prints calicoctl's message for a bad profile name.
func (c *cmd) validProfileName(name string) bool {
	if schema.ValidID(name) {
		return true
	}
	c.badID(msgProfileName, name)
	return false
}

// validArgs is calicoctl's validate_arguments for a rule command: it checks the profile name and
// the values of the rule words, prints every problem in calicoctl's order, and reports whether
// all are fine.
func (c *cmd) validArgs(name string, words []string) bool {
	v := ruleArgValues(words)
	profileOK := schema.ValidID(name)
	tagsOK := true
	for _, t := range v.tags {
		tagsOK = tagsOK && schema.ValidID(t)
	}
	cidrOK, versionsOK := cidrsOK(v.cidrs, v.icmpFamily)
	icmpOK, portsOK, notDecimal := v.numbersOK()
	defer func() {
		for _, m := range notDecimal {
			fmt.Fprintf(c.err, "reconcile: %s\n", m)
		}
	}()
	if !profileOK {
		c.badID(msgProfileName, name)
	}
	if !tagsOK {
		c.paragraph(msgTagName)
	}
	if !cidrOK {
		c.println("Invalid CIDR specified.")
	}
	if !icmpOK {
		c.println("Invalid ICMP type or ICMP code specified.")
	}
	if !portsOK {
		c.println("Invalid SRCPORTS or DSTPORTS specified.")
	}
	if !versionsOK {
		c.println("Invalid or unmatching IP versions for SRCCIDR/DSTCIDR.")
	}
	return profileOK && tagsOK && cidrOK && icmpOK && portsOK && versionsOK
}

// ruleArgs are the values of the keywords of a rule text, as calicoctl's docopt gave them to
// validate_arguments.
type ruleArgs struct {
	tags, cidrs, ports []string
	icmps              [][2]string // keyword (type, code), value
	icmpFamily         int         // 4 after icmp, 6 after icmpv6, else 0
}

// ruleArgValues collects the value of each tag, cidr, type, code and ports keyword of words.
func ruleArgValues(words []string) ruleArgs {
	var v ruleArgs
	for i := 0; i < len(words); i++ {
		w := words[i]
		next := ""
		if i+1 < len(words) {
			next = words[i+1]
		}
		switch w {
		case "tag":
			v.tags = append(v.tags, next)
		case "cidr":
			v.cidrs = append(v.cidrs, next)
		case "type", "code":
			v.icmps = append(v.icmps, [2]string{w, next})
		case "ports":
			v.ports = append(v.ports, next)
		case "prefix":
		case "icmp":
			v.icmpFamily = 4
			continue
		case "icmpv6":
			v.icmpFamily = 6
			continue
		default:
			continue
		}
		i++ // the keyword's value
	}
	return v
}

// cidrsOK checks the CIDRs: each valid (cidrOK), and all of the family of the ICMP protocol
// (icmpFamily, 0 for none) and of each other (versionsOK, true when a CIDR is invalid:
// calicoctl checks versions only of valid CIDRs).
func cidrsOK(cidrs []string, icmpFamily int) (cidrOK, versionsOK bool) {
	cidrOK, versionsOK = true, true
	fam := icmpFamily
	for _, s := range cidrs {
		f := schema.NetFamily(s)
		if f == 0 {
			cidrOK = false
			continue
		}
		if fam != 0 && f != fam {
			versionsOK = false
		}
		fam = f
	}
	if !cidrOK {
		versionsOK = true // calicoctl checks versions only of valid CIDRs
	}
	return cidrOK, versionsOK
}

// numbersOK checks the ICMP types and codes (0-254) and the port lists. A number in another
// notation than plain decimal (010, +80, 0x50) gets calicoctl's message and, in notDecimal (for
// standard error), what to write instead.
func (v ruleArgs) numbersOK() (icmpOK, portsOK bool, notDecimal []string) {
	icmpOK, portsOK = true, true
	for _, kw := range v.icmps {
		n, err := atoi(kw[1])
		icmpOK = icmpOK && err == nil && n >= 0 && n <= 254
		if errors.Is(err, schema.ErrNotDecimal) {
			notDecimal = append(notDecimal, fmt.Sprintf("%s: %v", kw[0], err))
		}
	}
	for _, s := range v.ports {
		_, err := ParsePorts(s)
		portsOK = portsOK && err == nil
		if errors.Is(err, schema.ErrNotDecimal) {
			notDecimal = append(notDecimal, strings.Replace(err.Error(), "invalid ports: ", "ports: ", 1))
		}
	}
	return icmpOK, portsOK, notDecimal
}

// profileFile is a profile's file, read and decoded.
type profileFile struct {
	files   map[string][]byte
	path    string
	profile *schema.Profile
}

// loadProfile finds and decodes profile name. On failure it prints why (calicoctl's
// "Profile P not found." when there is no file) and returns the exit code.
func (c *cmd) loadProfile(name string) (*profileFile, int) {
	files, err := c.repoFiles()
	if err != nil {
		return nil, c.fail("%v", err)
	}
	paths := profileFiles(files)[name]
	switch len(paths) {
	case 0:
		c.println(fmt.Sprintf("Profile %s not found.", name))
		return nil, 1
	case 1:
	default:
		return nil, c.fail("profile %q is defined twice (%s); remove one file first", name, strings.Join(paths, ", "))
	}
	p, errs := schema.DecodeProfile(paths[0], files[paths[0]])
	if len(errs) > 0 || p == nil {
		fmt.Fprintf(c.err, "reconcile: %s is not valid; fix it first:\n", paths[0])
		for _, e := range errs {
			fmt.Fprintf(c.err, "  %s\n", e)
		}
		return nil, 1
	}
	return &profileFile{files: files, path: paths[0], profile: p}, 0
}

// save writes the edited profile, if the repository stays valid.
func (c *cmd) save(pf *profileFile) bool {
	data, err := EditProfile(pf.path, pf.files[pf.path], pf.profile)
	if err != nil {
		c.fail("%v; nothing was written", err)
		return false
	}
	return c.commit(pf.files, map[string][]byte{pf.path: data})
}

func (c *cmd) profileShow(detailed bool) int {
	files, err := c.repoFiles()
	if err != nil {
		return c.fail("%v", err)
	}
	names := profileFiles(files)
	if !detailed {
		t := &table{header: []string{"Name"}}
		for n := range names {
			t.add(n)
		}
		c.println(t.String(0))
		return 0
	}
	repo, _ := schema.Load(files)
	t := &table{header: []string{"Name", "Host", "Endpoint ID", "Interface", "State"}}
	for n := range names {
		members := 0
		for _, e := range repo.Endpoints {
			if slices.Contains(e.ProfileIDs, n) {
				members++
				t.add(n, orNone(e.Host), orNone(e.ID), orNone(e.Interface), orNone(stateOf(e)))
			}
		}
		if members == 0 {
			t.add(n, "None", "None", "None", "None")
		}
	}
	c.println(t.String(0))
	return 0
}

func orNone(s string) string {
	if s == "" {
		return "None"
	}
	return s
}

func stateOf(e *schema.Endpoint) string {
	if e.State == "" {
		return schema.StateActive
	}
	return e.State
}

func (c *cmd) profileAdd(name string) int {
	files, err := c.repoFiles()
	if err != nil {
		return c.fail("%v", err)
	}
	if len(profileFiles(files)[name]) > 0 {
		c.println(fmt.Sprintf("Profile %s already exists.", name))
		return 0
	}
	p := &schema.Profile{
		ID:       name,
		Tags:     []string{name},
		Inbound:  []schema.Rule{{Action: schema.ActionAllow, SrcTag: name}},
		Outbound: []schema.Rule{{Action: schema.ActionAllow}},
	}
	path := "profiles/" + name + ".yaml"
	data, err := MarshalProfile(path, p)
	if err != nil {
		return c.fail("%v", err)
	}
	if !c.commit(files, map[string][]byte{path: data}) {
		return 1
	}
	c.println("Created profile " + name)
	return 0
}

func (c *cmd) profileRemove(name string, noCheck bool) int {
	files, err := c.repoFiles()
	if err != nil {
		return c.fail("%v", err)
	}
	paths := profileFiles(files)[name]
	if len(paths) == 0 {
		c.println(fmt.Sprintf("Profile %s not found.", name))
		return 0
	}
	repo, _ := schema.Load(files)
	var members []string
	for _, e := range repo.Endpoints {
		if slices.Contains(e.ProfileIDs, name) {
			members = append(members, e.ID)
		}
	}
	if len(members) > 0 && !noCheck {
		c.println("Cannot remove profile - profile in use by endpoint(s).\nUse the '--no-check' flag to remove the profile anyway.")
		return 0
	}
	change := map[string][]byte{}
	for _, p := range paths {
		change[p] = nil
	}
	if len(members) > 0 {
		// --no-check: the user asked for dangling references; say what they are.
		if !c.write(change) {
			return 1
		}
		fmt.Fprintf(c.err, "reconcile: warning: endpoint(s) %s still list profile %q; `reconcile validate` fails until their profile_ids are changed\n", strings.Join(members, ", "), name)
	} else if !c.commit(files, change) {
		return 1
	}
	c.println("Deleted profile " + name)
	return 0
}

func (c *cmd) tagShow(name string) int {
	pf, code := c.loadProfile(name)
	if pf == nil {
		return code
	}
	for _, t := range pf.profile.Tags {
		c.println(t)
	}
	return 0
}

func (c *cmd) tagAdd(name, tag string) int {
	if !schema.ValidID(tag) {
		c.badID(msgTagName, tag)
		return 1
	}
	pf, code := c.loadProfile(name)
	if pf == nil {
		return code
	}
	if !pf.profile.HasTag(tag) {
		pf.profile.Tags = append(pf.profile.Tags, tag)
		if !c.save(pf) {
			return 1
		}
	}
	c.println(fmt.Sprintf("Tag %s added to profile %s", tag, name))
	return 0
}

func (c *cmd) tagRemove(name, tag string) int {
	pf, code := c.loadProfile(name)
	if pf == nil {
		return code
	}
	i := slices.Index(pf.profile.Tags, tag)
	if i < 0 {
		c.println(fmt.Sprintf("Tag %s is not on profile %s", tag, name))
		return 1
	}
	pf.profile.Tags = slices.Delete(pf.profile.Tags, i, i+1)
	if !c.save(pf) {
		return 1
	}
	c.println(fmt.Sprintf("Tag %s removed from profile %s", tag, name))
	return 0
}

func (c *cmd) ruleShow(name string) int {
	pf, code := c.loadProfile(name)
	if pf == nil {
		return code
	}
	c.println("Inbound rules:")
	for i, r := range pf.profile.Inbound {
		c.println(fmt.Sprintf(" %3d %s", i+1, r))
	}
	c.println("Outbound rules:")
	for i, r := range pf.profile.Outbound {
		c.println(fmt.Sprintf(" %3d %s", i+1, r))
	}
	return 0
}

// RulesJSON renders rules as calicoctl's `rule json` printed them (without the trailing empty
// line): Python 2 json.dumps(indent=2) of {"inbound_rules": [...], "outbound_rules": [...]}.
func RulesJSON(inbound, outbound []schema.Rule) (string, error) {
	seq := func(rules []schema.Rule) *yaml.Node {
		n := &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq"}
		for _, r := range rules {
			n.Content = append(n.Content, RuleNode(Canonical(r)))
		}
		return n
	}
	key := func(k string) *yaml.Node { return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: k} }
	root := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map", Content: []*yaml.Node{
		key("inbound_rules"), seq(inbound),
		key("outbound_rules"), seq(outbound),
	}}
	var b bytes.Buffer
	if err := pyJSON(&b, root, 0); err != nil {
		return "", err
	}
	return b.String(), nil
}

func (c *cmd) ruleJSON(name string) int {
	pf, code := c.loadProfile(name)
	if pf == nil {
		return code
	}
	s, err := RulesJSON(pf.profile.Inbound, pf.profile.Outbound)
	if err != nil {
		return c.fail("%v", err)
	}
	c.println(s)
	c.println("")
	return 0
}

func (c *cmd) ruleUpdate(name string) int {
	pf, code := c.loadProfile(name)
	if pf == nil {
		return code
	}
	data, err := io.ReadAll(c.in)
	if err != nil {
		return c.fail("read the rules JSON from standard input: %v", err)
	}
	if err := c.ctx.Err(); err != nil {
		return c.fail("%v", err)
	}
	id, hasID, inbound, outbound, errs := schema.DecodeRules("stdin", data)
	if len(errs) > 0 {
		fmt.Fprintln(c.err, "reconcile: invalid rules JSON; nothing was changed:")
		for _, e := range errs {
			fmt.Fprintf(c.err, "  %s\n", e)
		}
		return 1
	}
	if hasID && id != name {
		c.println(fmt.Sprintf("Rules JSON \"id\"=%s doesn't match profile name %s.", id, name))
		return 1
	}
	pf.profile.Inbound, pf.profile.Outbound = inbound, outbound
	if !c.save(pf) {
		return 1
	}
	c.println("Successfully updated rules on profile " + name)
	return 0
}

func (c *cmd) ruleAdd(name string, inbound, hasAt bool, pos int, rule schema.Rule) int {
	pf, code := c.loadProfile(name)
	if pf == nil {
		return code
	}
	rules := &pf.profile.Outbound
	if inbound {
		rules = &pf.profile.Inbound
	}
	if !hasAt {
		pos = len(*rules) + 1
	}
	if pos < 1 || pos > len(*rules)+1 {
		c.println(fmt.Sprintf("Position %d is out-of-range.", pos))
		return 1
	}
	for _, r := range *rules {
		if SameAs(r, rule) {
			c.println("Rule already present, skipping.")
			return 0
		}
	}
	*rules = slices.Insert(*rules, pos-1, rule)
	if !c.save(pf) {
		return 1
	}
	return 0
}

func (c *cmd) ruleRemove(name string, inbound, hasAt bool, pos int, rule schema.Rule) int {
	pf, code := c.loadProfile(name)
	if pf == nil {
		return code
	}
	rules := &pf.profile.Outbound
	if inbound {
		rules = &pf.profile.Inbound
	}
	if hasAt {
		if pos < 1 || pos > len(*rules) {
			c.println(fmt.Sprintf("Position %d is out-of-range.", pos))
			return 1
		}
	} else {
		pos = slices.IndexFunc(*rules, func(r schema.Rule) bool { return SameAs(rule, r) }) + 1
		if pos == 0 {
			c.println("Rule not found.")
			return 1
		}
	}
	*rules = slices.Delete(*rules, pos-1, pos)
	if !c.save(pf) {
		return 1
	}
	return 0
}

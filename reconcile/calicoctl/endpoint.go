package calicoctl

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/reconcile-dev/reconcile/reconcile/limits"
	"github.com/reconcile-dev/reconcile/schema"
)

// EndpointUsage is the grammar of `reconcile endpoint`, printed on a usage error.
const EndpointUsage = `Usage:
  reconcile endpoint show [--host=<HOSTNAME>] [--endpoint=<ENDPOINT_ID>] [--detailed]
  reconcile endpoint <ENDPOINT_ID> profile (append|remove|set) [--host=<HOSTNAME>] [<PROFILES>...]
  reconcile endpoint <ENDPOINT_ID> profile show [--host=<HOSTNAME>]

  Options may also be given as --host H. --dir PATH (default ".") may appear anywhere.
`

// Endpoint runs `reconcile endpoint ARGS` on the repository checkout and returns the exit code.
func Endpoint(ctx context.Context, env Env, args []string) int {
	c, err := newCmd(ctx, env, args, []string{"host", "endpoint"}, []string{"detailed", "help"})
	if err != nil {
		return usageError(env.Stderr, err, EndpointUsage)
	}
	if c.has("help") || (len(c.args) == 1 && c.args[0] == "help") {
		fmt.Fprint(c.out, EndpointUsage)
		return 0
	}
	a := c.args
	host := c.opts["host"]
	if host != "" {
		// A filter that no endpoint's host can equal (schema refuses such a host) would
		// only print "Endpoint ... is unknown".
		if err := limits.CheckHostName(host); err != nil {
			return c.fail("--host: %v", err)
		}
	}
	if len(a) == 1 && a[0] == "show" {
		return c.endpointShow(host, c.opts["endpoint"], c.has("detailed"))
	}
	if len(a) < 3 || a[1] != "profile" {
		return c.usage(EndpointUsage, fmt.Sprintf("unknown command %q", strings.Join(a, " ")))
	}
	if c.has("detailed") || c.has("endpoint") {
		return c.usage(EndpointUsage, "--detailed and --endpoint go with endpoint show only")
	}
	id, verb, profiles := a[0], a[2], a[3:]
	switch verb {
	case "show":
		if len(profiles) > 0 {
			return c.usage(EndpointUsage, "endpoint profile show takes no profiles")
		}
		return c.endpointProfileShow(id, host)
	case "append", "remove", "set":
		return c.endpointProfileChange(id, host, verb, profiles)
	}
	return c.usage(EndpointUsage, fmt.Sprintf("unknown endpoint profile command %q", verb))
}

// endpointProfileChange runs `endpoint ID profile (append|remove|set) [--host=H] PROFILES...`.
func (c *cmd) endpointProfileChange(id, host, verb string, profiles []string) int {
	// calicoctl's validate_arguments, then validate_profile_list.
	for _, p := range profiles {
		if !schema.ValidID(p) {
			c.badID(msgProfileName, p)
			return 1
		}
	}
	files, err := c.repoFiles()
	if err != nil {
		return c.fail("%v", err)
	}
	existing := profileFiles(files)
	seen := map[string]bool{}
	for _, p := range profiles {
		if len(existing[p]) == 0 {
			c.println(fmt.Sprintf("Profile with name %s was not found.", p))
			return 1
		}
		if seen[p] {
			c.println(fmt.Sprintf("Profile with name %s was specified more than once.", p))
			return 1
		}
		seen[p] = true
	}
	if verb != "set" && len(profiles) == 0 {
		c.paragraph("No profile specified.")
		return 0
	}
	failed := map[string]string{
		"append": "Failed to append profiles to endpoint.",
		"remove": "Failed to remove profiles from endpoint.",
		"set":    "Failed to set profiles for endpoint.",
	}[verb]
	unknown := "Endpoint could not be found."
	if verb == "append" {
		unknown = fmt.Sprintf("Endpoint %s is unknown to Calico.", id)
	}
	e, code := c.findEndpoint(files, id, host, failed, unknown)
	if e == nil {
		return code
	}
	ids, msg, ok := c.changedProfileIDs(verb, e.ProfileIDs, profiles)
	if !ok {
		return 0
	}
	if ids == nil {
		ids = []string{}
	}
	data, err := EditEndpointProfiles(e.Path, files[e.Path], e.ID, e.Host, ids)
	if err != nil {
		return c.fail("%v; nothing was written", err)
	}
	if !c.commit(files, map[string][]byte{e.Path: data}) {
		return 1
	}
	c.paragraph(msg)
	return 0
}

// changedProfileIDs returns the endpoint's profile ids after verb (append, remove, set) with
// profiles, and calicoctl's message for it. ok is false, the message printed, when calicoctl
// refuses softly (a profile already in the list for append, or not in it for remove).
func (c *cmd) changedProfileIDs(verb string, current, profiles []string) (ids []string, msg string, ok bool) {
	ids = slices.Clone(current)
	switch verb {
	case "append":
		for _, p := range profiles {
			if slices.Contains(ids, p) {
				c.paragraph(fmt.Sprintf("Profile %s is already in endpoint profile list", p))
				return nil, "", false
			}
		}
		ids = append(ids, profiles...)
		msg = fmt.Sprintf("Profile(s) %s appended.", strings.Join(profiles, ", "))
	case "remove":
		for _, p := range profiles {
			if !slices.Contains(ids, p) {
				c.paragraph(fmt.Sprintf("Profile %s is not in endpoint profile list.", p))
				return nil, "", false
			}
		}
		ids = slices.DeleteFunc(ids, func(p string) bool { return slices.Contains(profiles, p) })
		msg = fmt.Sprintf("Profile(s) %s removed.", strings.Join(profiles, ","))
	case "set":
		ids = slices.Clone(profiles)
		msg = "Removed all profiles from endpoint."
		if len(profiles) > 0 {
			msg = fmt.Sprintf("Profile(s) set to %s.", strings.Join(profiles, ", "))
		}
	}
	return ids, msg, true
}

// findEndpoint finds the one endpoint with id (on host, when given). When there is none it
// prints calicoctl's two messages (failed, then unknown) and returns exit code 1.
func (c *cmd) findEndpoint(files map[string][]byte, id, host, failed, unknown string) (*schema.Endpoint, int) {
	repo, _ := schema.Load(files)
	var found []*schema.Endpoint
	for _, e := range repo.Endpoints {
		if e.ID == id && (host == "" || e.Host == host) {
			found = append(found, e)
		}
	}
	switch len(found) {
	case 0:
		c.println(failed + "\n")
		c.paragraph(unknown)
		return nil, 1
	case 1:
		return found[0], 0
	}
	c.paragraph("More than 1 endpoint matches the provided criteria.  Please provide additional parameters to refine the search.")
	return nil, 1
}

func (c *cmd) endpointProfileShow(id, host string) int {
	files, err := c.repoFiles()
	if err != nil {
		return c.fail("%v", err)
	}
	e, code := c.findEndpoint(files, id, host, "Failed to list profiles in endpoint.", fmt.Sprintf("Endpoint %s is unknown to Calico.", id))
	if e == nil {
		return code
	}
	if len(e.ProfileIDs) == 0 {
		c.println("Endpoint has no profiles associated with it.")
		return 0
	}
	t := &table{header: []string{"Name"}}
	for _, p := range e.ProfileIDs {
		t.add(p)
	}
	c.println(t.String(0) + "\n")
	return 0
}

func (c *cmd) endpointShow(host, id string, detailed bool) int {
	files, err := c.repoFiles()
	if err != nil {
		return c.fail("%v", err)
	}
	repo, _ := schema.Load(files)
	var eps []*schema.Endpoint
	for _, e := range repo.Endpoints {
		if (host == "" || e.Host == host) && (id == "" || e.ID == id) {
			eps = append(eps, e)
		}
	}
	if detailed {
		t := &table{header: []string{"Hostname", "Endpoint ID", "Interface", "Addresses", "MAC", "Profiles", "State"}}
		for _, e := range eps {
			addrs := append(slices.Clone(e.IPv4Nets), e.IPv6Nets...)
			t.add(orNone(e.Host), orNone(e.ID), orNone(e.Interface), strings.Join(addrs, "\n"), orNone(e.MAC), strings.Join(e.ProfileIDs, ","), stateOf(e))
		}
		c.println(t.String(0) + "\n")
		return 0
	}
	count := map[string]int{}
	var hosts []string
	for _, e := range eps {
		if count[e.Host] == 0 {
			hosts = append(hosts, e.Host)
		}
		count[e.Host]++
	}
	t := &table{header: []string{"Hostname", "Number of Endpoints"}}
	for _, h := range hosts {
		t.add(orNone(h), strconv.Itoa(count[h]))
	}
	c.println(t.String(0) + "\n")
	return 0
}

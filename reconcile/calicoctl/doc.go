// Package calicoctl implements calicoctl v0.x's `profile` and `endpoint` commands on the files of
// a policy repository checkout (SPEC §5): it parses calicoctl's grammar, reads and edits
// profiles/*.yaml|json and endpoints/*.yaml|json, prints calicoctl's messages and returns
// calicoctl's exit codes. The cobra wiring lives in cmd/reconcile (profile.go, endpoint.go).
//
// # Commands
//
//	profile show [--detailed]
//	profile add <PROFILE>
//	profile remove <PROFILE> [--no-check]
//	profile <PROFILE> tag show
//	profile <PROFILE> tag (add|remove) <TAG>
//	profile <PROFILE> rule add (inbound|outbound) [--at=<POSITION>] <RULE>
//	profile <PROFILE> rule remove (inbound|outbound) (--at=<POSITION> | <RULE>)
//	profile <PROFILE> rule show
//	profile <PROFILE> rule json
//	profile <PROFILE> rule update              (rules JSON on stdin)
//	endpoint show [--host=<HOSTNAME>] [--endpoint=<ENDPOINT_ID>] [--detailed]
//	endpoint <ENDPOINT_ID> profile (append|remove|set) [--host=<HOSTNAME>] [<PROFILES>...]
//	endpoint <ENDPOINT_ID> profile show [--host=<HOSTNAME>]
//
// `--dir PATH` (or --dir=PATH; default ".") may appear anywhere among the arguments. Options
// take the forms --at=N and --at N. <RULE> is calicoctl's rule text with the extensions of
// ParseRule (log, log prefixes, protocol numbers, sctp/udplite, ip_version, negations).
//
// # Output
//
// calicoctl's own messages go to standard output, byte for byte as calicoctl printed them
// (including the blank line that calicoctl's print_paragraph added after some of them, and its
// wrapping at 80 columns). Problems calicoctl reported as a Python traceback or a docopt usage
// dump (bad rules JSON, unknown keys, a rule text that does not parse, I/O errors) are reported
// as clear one-line errors on standard error instead. Tables use calicoctl's PrettyTable layout
// (centred cells, `+---+` borders).
//
// # Exit codes (as calicoctl)
//
// 0 on success and on calicoctl's soft refusals: `Profile P already exists.`, `Profile P not
// found.` from `profile remove`, `Cannot remove profile - profile in use by endpoint(s).`,
// `Rule already present, skipping.`, `Profile X is already in endpoint profile list`,
// `Profile X is not in endpoint profile list.`, `No profile specified.`.
// 1 on errors: invalid names/tags/CIDRs/ports/ICMP values, `Profile P not found.` (tag and rule
// commands), `Tag T is not on profile P`, `Rule not found.`, `Rules JSON "id"=X doesn't match
// profile name P.`, unknown endpoints or profiles, a change the repository would not accept, and
// every usage error.
//
// # Every write keeps the repository valid
//
// Before a file is written, the whole repository is decoded and validated with the change
// (schema.Load); if the change would add an error, it is printed and nothing is written.
// Existing errors in other files do not block an edit. Files are written atomically (temporary
// file and rename) with EditProfile / EditEndpointProfiles.
//
// # Edits keep the file
//
// An edit changes only the bytes of what the command changes: a tag, profile id or rule added is
// inserted in the style of its neighbours (indentation, quoting, flow [A, B] or block "- A"
// lists, one-line or multi-line JSON objects), one removed is deleted with its own comment
// lines, and everything else stays byte for byte: CRLF or LF line endings, a missing final line
// break, a UTF-8 byte-order mark, comments, blank lines, key order, quoting, indentation (tabs
// in JSON too). A JSON file stays JSON. `rule update` keeps the rules that the new list still
// has and inserts or deletes only the others. When an edit cannot keep the file or would change
// more than the command says (the list changed comes through a merge key `<<`; it, its endpoint
// or profile mapping, or a value deleted carries an &anchor that an alias or merge key elsewhere
// uses; two endpoints of the file have the id and no --host tells them apart; text that validate
// refuses: a lone carriage return, NEL, a line or paragraph separator, other control
// characters), the command prints "path:line:col: cannot edit the file in place: why", writes
// nothing and exits 1. After every edit the whole file is decoded again: the endpoint (or
// profile) must mean what was intended and every other endpoint what it meant before.
// Values that a YAML 1.1 reader would not read as the same string (yes, on, 1:30, 010, ...)
// are written quoted. `profile add` writes a new file with LF line endings.
// The only exception is `profile remove --no-check`, whose purpose is to remove a profile that
// endpoints still use: it prints a warning on standard error naming those endpoints (their
// profile_ids now fail validation until they are changed).
//
// # Divergences from calicoctl (deliberate)
//
//   - An out-of-range --at is an error for both `rule add` and `rule remove`: it prints
//     `Position N is out-of-range.`, exits 1 and writes nothing. (calicoctl inserted anyway with
//     Python list-insert semantics on add, and printed `Rule position out-of-range.` with exit 0
//     on remove.) A non-integer --at is reported on standard error (calicoctl exited 1 silently).
//   - `tag add` validates the tag like every other tag (calicoctl wrote anything).
//   - Tags are an ordered list in the file: `tag show` prints them in file order and `tag add`
//     appends (calicoctl's set printed in arbitrary order).
//   - `rule show` of a rule that calicoctl's grammar cannot express prints the extended rule text
//     of schema.Rule.String, which `rule add` and `rule remove` accept back.
//   - `rule json` prints calicoctl's post-v0.21 JSON (keys inbound_rules and outbound_rules,
//     Python 2 json.dumps(indent=2) layout with ", " at line ends, then an empty line); inside a
//     rule the keys come in the repository's fixed order (calicoctl's order was arbitrary).
//   - `rule update` accepts the rules JSON with or without "id" (calicoctl required it before
//     v0.21 and rejected it after); when present it must equal the profile name. It must be
//     JSON, as calicoctl's json.loads required (YAML would read {"dst_ports": [010]} as port 8).
//   - Numbers in rule text (ports, type, code, protocol numbers) and --at are plain decimal
//     (schema.ParseDecimal): calicoctl's int() took "010" as 10, "+1" and " 1"; these are refused
//     with calicoctl's message for the field (where it had one) and, on standard error, what to
//     write instead.
//   - `rule add`/`rule remove` compare rules the way calicoctl did (every field equal, nets as
//     networks), see SameAs.
//   - Endpoints have no orchestrator or workload in this model. `endpoint show` prints
//     calicoctl's summary table with the columns Hostname and Number of Endpoints, and with
//     --detailed the columns Hostname, Endpoint ID, Interface, Addresses, MAC, Profiles, State.
//     `profile show --detailed` prints Name, Host, Endpoint ID, Interface, State (calicoctl:
//     Name, Host, Orchestrator ID, Workload ID, Endpoint ID, State). A missing value prints as
//     None, as Python did.
//   - `endpoint <ID> profile show` sorts the names as calicoctl did; the evaluation order is the
//     order in the file (see `reconcile endpoint show --detailed`).
//   - The profile-name message still says "< 40 character long" as calicoctl's did (calicoctl
//     enforced no length); the limit enforced is 64 bytes for profile names and tags
//     (limits.MaxIDLen: they name nft chains, sets and comments), and a longer one gets
//     calicoctl's message on standard output plus a line naming that limit on standard error.
package calicoctl

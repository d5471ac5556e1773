package badrepos

// Awaiting lists the cases that today's code does not yet refuse the way the corpus demands
// (exit 1, nothing on stderr, every message prefixed with its path, the same under --dir and
// --repo, one error per root cause), each with the rule of issue 7 that fixes it. The corpus
// tests log these instead of failing, and fail once a listed case passes, so that its entry
// is removed and the case holds from then on.
var Awaiting = map[string]string{
	"005-profile-id-over-64-bytes": "issue 7 kind 5: ids at most limits.MaxIDLen (64) bytes",
	"008-tag-over-64-bytes":        "issue 7 kind 5: tags at most limits.MaxIDLen (64) bytes",
	"042-empty-dst-ports-list": "empty match values: an empty dst_ports list matches every port today; " +
		"no helper of issue 7 owns it (the lead decides: refuse like src_tag: \"\", or drop the case)",
	"046-endpoint-id-over-64-bytes": "issue 7 kind 5: ids at most limits.MaxIDLen (64) bytes (comments over 128 bytes)",
	"051-interface-with-star":       "issue 7 kind 5: interface names restricted to what the kernel and nft accept",
}

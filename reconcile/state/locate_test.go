package state

import (
	"testing"
)

// TestLocate: the record of a namespace stays where it is when the namespace gains or loses a
// name (the record holds the commit applied last: a record that moved would start the rewind
// check from nothing), and a record of another namespace is never taken.
func TestLocate(t *testing.T) {
	self := NetnsID{BootID: "boot-1", Dev: 4, Ino: 4026532001}
	other := NetnsID{BootID: "boot-1", Dev: 4, Ino: 4026531840}
	oldBoot := NetnsID{BootID: "boot-0", Dev: 4, Ino: 4026532777}
	type rec struct {
		key string
		id  *NetnsID
	}
	for _, c := range []struct {
		name  string
		have  []rec
		names []string
		own   bool
		want  string
	}{
		{"nothing yet: the first name", nil, []string{"b", "c"}, false, "b"},
		{"nothing yet, own and unnamed", nil, nil, true, ""},
		{"nothing yet, unnamed", nil, nil, false, "inode-4026532001"},
		{"a second name that sorts first", []rec{{"zz", &self}}, []string{"aa", "zz"}, false, "zz"},
		{"the name holding the record is gone", []rec{{"bnA", &self}}, []string{"bnB"}, false, "bnA"},
		{"own namespace named later", []rec{{"", &self}}, []string{"later"}, true, ""},
		{"unnamed, reached by /proc/PID", []rec{{"inode-4026532001", &self}}, nil, false, "inode-4026532001"},
		{"the same name in another boot", []rec{{"lab", &oldBoot}}, []string{"lab"}, false, "lab"},
		{"the name's namespace made again", []rec{{"lab", &other}}, []string{"lab"}, false, "lab"},
		{"a record without identity under the name", []rec{{"lab", nil}}, []string{"lab"}, false, "lab"},
		{"the host's record across a reboot", []rec{{"", &oldBoot}}, nil, true, ""},
		{"the host's record before identities", []rec{{"", nil}}, nil, true, ""},
		{"ip netns exec X: the host's record of this boot is not X's", []rec{{"", &other}}, []string{"x"}, true, "x"},
		{"ip netns exec X: nor one without identity", []rec{{"", nil}}, []string{"x"}, true, "x"},
		{"an unnamed own namespace does not take another's of this boot", []rec{{"", &other}}, nil, true, "inode-4026532001"},
		{"another namespace's record with our inode in another boot", []rec{{"inode-4026532001", &NetnsID{BootID: "boot-0", Dev: 4, Ino: 4026532001}}}, nil, false, "inode-4026532001"},
		{"exact identity wins over a name", []rec{{"lab", &oldBoot}, {"old", &self}}, []string{"lab"}, false, "old"},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			for _, r := range c.have {
				if err := Save(dir, &Record{Table: "reconcile", Netns: r.key, NetnsID: r.id, History: []Attempt{}}); err != nil {
					t.Fatal(err)
				}
			}
			// A record of another table with our identity is not ours.
			if err := Save(dir, &Record{Table: "other", Netns: "decoy", NetnsID: &self, History: []Attempt{}}); err != nil {
				t.Fatal(err)
			}
			got, err := Locate(dir, "reconcile", self, c.names, c.own)
			if err != nil {
				t.Fatal(err)
			}
			if got != c.want {
				t.Errorf("Locate = %q, want %q", got, c.want)
			}
		})
	}
}

// TestLocateReadsOnlyTheHead: Save writes the identity before the large fields, so Locate
// can stop reading a file early.
func TestLocateReadsOnlyTheHead(t *testing.T) {
	dir := t.TempDir()
	id := NetnsID{BootID: "b", Dev: 1, Ino: 2}
	r := &Record{Table: "reconcile", Netns: "lab", NetnsID: &id, History: []Attempt{{Revision: "x"}}}
	if err := Save(dir, r); err != nil {
		t.Fatal(err)
	}
	h, err := readHead(Path(dir, "reconcile", "lab"))
	if err != nil || h == nil || h.ID == nil || *h.ID != id || h.Netns != "lab" || h.Table != "reconcile" {
		t.Fatalf("readHead = %+v, %v", h, err)
	}
	back, err := Load(dir, "reconcile", "lab")
	if err != nil || back.NetnsID == nil || *back.NetnsID != id {
		t.Fatalf("Load: %+v, %v", back, err)
	}
}

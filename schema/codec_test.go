package schema

import (
	"math/rand/v2"
	"reflect"
	"testing"
)

// The entry codec round-trips a file's result exactly (nil and empty lists and maps apart),
// and a damaged entry is an error, never a panic.
func TestCodecRoundTripAndDamage(t *testing.T) {
	files := benchRepo(3)
	files["profiles/BAD.yaml"] = []byte("id: BAD\ntags: [a b]\ninbound_rules:\n  - action: allow\n    dst_ports: [99999]\n    icmp_type: 3\n")
	files["tests/t.yaml"] = []byte("tests:\n  - {name: a, from: ep-1, to: ep-2, protocol: tcp, port: 80, expect: allow}\n")
	r := rand.New(rand.NewPCG(5, 6))
	for p, data := range files {
		fr := decodeFile(p, data)
		b := encodeResult(nil, fr)
		got, err := decodeResult(b)
		if err != nil || !reflect.DeepEqual(got, fr) {
			t.Fatalf("%s: round trip: %v", p, err)
		}
		for range 2000 {
			d := []byte(string(b))
			switch r.IntN(3) {
			case 0:
				d[r.IntN(len(d))] ^= byte(1 + r.IntN(255))
			case 1:
				d = d[:r.IntN(len(d))]
			case 2:
				i := r.IntN(len(d))
				d = append(d[:i:i], append([]byte{byte(r.IntN(256))}, d[i:]...)...)
			}
			decodeResult(d) // must not panic
		}
	}
}

// appendFieldPos writes the bytes of the reflective appendMap (entries written by either read
// back the same), for nil, empty and filled position maps.
func TestCodecFieldPosFastPath(t *testing.T) {
	for _, fp := range []fieldPos{nil, {}, {"id": {1, 2}, "host": {3, -4}, "": {0, 0}, "ipv4_nets": {1 << 40, 7}}} {
		fast := appendFieldPos([]byte{9}, fp)
		slow := appendMap([]byte{9}, reflect.ValueOf(fp))
		if string(fast) != string(slow) {
			t.Errorf("%v: fast path %x, reflection %x", fp, fast, slow)
		}
	}
}

package schema

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"reflect"
	"slices"
	"sort"
)

// This file is the binary form of a file's decoding result (fileResult) in the decode cache
// (cache.go). It is written by reflection over the types, so a field added to Endpoint, Rule,
// Profile or Expectation is stored without a change here (a field of a kind it does not know
// makes encoding panic, which the cache tests catch). It keeps what encoding/gob loses: a nil
// slice or map differs from an empty one (an endpoint without ipv4_nets has [], a rule without
// dst_ports nil; a checker without positions has a nil fieldPos).

// errCorrupt is the error of an entry that does not decode; the cache then decodes the file again.
var errCorrupt = errors.New("corrupt decode cache entry")

// appendValue appends the encoding of v.
func appendValue(b []byte, v reflect.Value) []byte {
	switch v.Kind() {
	case reflect.String:
		b = binary.AppendUvarint(b, uint64(v.Len()))
		return append(b, v.String()...)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return binary.AppendVarint(b, v.Int())
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return binary.AppendUvarint(b, v.Uint())
	case reflect.Bool:
		if v.Bool() {
			return append(b, 1)
		}
		return append(b, 0)
	case reflect.Pointer:
		if v.IsNil() {
			return append(b, 0)
		}
		return appendValue(append(b, 1), v.Elem())
	case reflect.Slice:
		if v.IsNil() {
			return append(b, 0)
		}
		b = binary.AppendUvarint(b, uint64(v.Len())+1)
		for i := 0; i < v.Len(); i++ {
			b = appendValue(b, v.Index(i))
		}
		return b
	case reflect.Map:
		if v.Type() == fieldPosType {
			return appendFieldPos(b, v.Interface().(fieldPos))
		}
		return appendMap(b, v)
	case reflect.Struct:
		for i := 0; i < v.NumField(); i++ {
			f := v.Field(i)
			if !f.CanInterface() { // an unexported field (checked without reflect.StructField)
				t := v.Type()
				panic(fmt.Sprintf("schema: decode cache: unexported field %s.%s", t.Name(), t.Field(i).Name))
			}
			b = appendValue(b, f)
		}
		return b
	}
	panic(fmt.Sprintf("schema: decode cache: cannot encode %s", v.Type()))
}

// appendFieldPos is appendMap of a fieldPos (the most frequent map: a few per endpoint)
// without reflection; the bytes are the same.
func appendFieldPos(b []byte, m fieldPos) []byte {
	if m == nil {
		return append(b, 0)
	}
	b = binary.AppendUvarint(b, uint64(len(m))+1)
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		p := m[k]
		b = binary.AppendUvarint(b, uint64(len(k)))
		b = append(b, k...)
		b = binary.AppendVarint(b, int64(p.Line))
		b = binary.AppendVarint(b, int64(p.Col))
	}
	return b
}

// appendMap appends the encoding of the map v: its length+1 (0: nil), then its keys and
// values, sorted by key when the keys are strings.
func appendMap(b []byte, v reflect.Value) []byte {
	if v.IsNil() {
		return append(b, 0)
	}
	b = binary.AppendUvarint(b, uint64(v.Len())+1)
	keys := v.MapKeys()
	if v.Type().Key().Kind() == reflect.String {
		// Sorted: one content, one encoding.
		sort.Slice(keys, func(i, j int) bool { return keys[i].String() < keys[j].String() })
	}
	for _, k := range keys {
		b = appendValue(b, k)
		b = appendValue(b, v.MapIndex(k))
	}
	return b
}

// valueReader reads what appendValue wrote, from the entry as one string: the strings it
// reads are slices of it (no allocation, no copy per string).
type valueReader struct {
	b      string
	failed bool
}

func (r *valueReader) fail() {
	r.failed = true
	r.b = ""
}

func (r *valueReader) uvarint() uint64 {
	var x uint64
	for i, shift := 0, uint(0); i < len(r.b) && i < binary.MaxVarintLen64; i, shift = i+1, shift+7 {
		c := r.b[i]
		if c < 0x80 {
			if i == binary.MaxVarintLen64-1 && c > 1 {
				break // overflow
			}
			r.b = r.b[i+1:]
			return x | uint64(c)<<shift
		}
		x |= uint64(c&0x7f) << shift
	}
	r.fail()
	return 0
}

func (r *valueReader) varint() int64 {
	ux := r.uvarint()
	x := int64(ux >> 1)
	if ux&1 != 0 {
		x = ^x
	}
	return x
}

// length reads a length (of a string or, with min bytes per element, of a list) that the rest
// of the entry can hold; a longer one is corruption.
func (r *valueReader) length(n uint64, min int) int {
	if n > uint64(len(r.b)/min) || n > math.MaxInt32 {
		r.fail()
		return 0
	}
	return int(n)
}

// fieldPosType is the type of fieldPos, which read decodes without reflection.
var fieldPosType = reflect.TypeOf(fieldPos(nil))

// str reads a string.
func (r *valueReader) str() string {
	n := r.length(r.uvarint(), 1)
	if r.failed {
		return ""
	}
	v := r.b[:n]
	r.b = r.b[n:]
	return v
}

// read decodes into v (settable).
func (r *valueReader) read(v reflect.Value) {
	if r.failed {
		return
	}
	switch v.Kind() {
	case reflect.String:
		v.SetString(r.str())
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		x := r.varint()
		if v.OverflowInt(x) {
			r.failed = true
			return
		}
		v.SetInt(x)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		x := r.uvarint()
		if v.OverflowUint(x) {
			r.failed = true
			return
		}
		v.SetUint(x)
	case reflect.Bool:
		x := r.uvarint()
		if x > 1 {
			r.failed = true
			return
		}
		v.SetBool(x == 1)
	case reflect.Pointer:
		r.readPointer(v)
	case reflect.Slice:
		r.readSlice(v)
	case reflect.Map:
		r.readMap(v)
	case reflect.Struct:
		for i := 0; i < v.NumField() && !r.failed; i++ {
			r.read(v.Field(i))
		}
	default:
		r.failed = true
	}
}

// readPointer decodes a pointer: 0 for nil, 1 followed by the value pointed to.
func (r *valueReader) readPointer(v reflect.Value) {
	switch r.uvarint() {
	case 0:
		v.SetZero()
	case 1:
		p := reflect.New(v.Type().Elem())
		r.read(p.Elem())
		v.Set(p)
	default:
		r.failed = true
	}
}

// readSlice decodes a slice: 0 for nil, else 1 + its length, then the elements (an empty
// slice stays empty, not nil).
func (r *valueReader) readSlice(v reflect.Value) {
	n := r.uvarint()
	if n == 0 {
		v.SetZero()
		return
	}
	l := r.length(n-1, 1)
	if r.failed {
		return
	}
	s := reflect.MakeSlice(v.Type(), l, l)
	for i := 0; i < l && !r.failed; i++ {
		r.read(s.Index(i))
	}
	v.Set(s)
}

// readMap decodes a map: 0 for nil, else 1 + its length, then the keys and values; a key
// written twice is damage.
func (r *valueReader) readMap(v reflect.Value) {
	n := r.uvarint()
	if n == 0 {
		v.SetZero()
		return
	}
	l := r.length(n-1, 2)
	if r.failed {
		return
	}
	t := v.Type()
	if t == fieldPosType {
		v.Set(reflect.ValueOf(r.fieldPos(l)))
		return
	}
	m := reflect.MakeMapWithSize(t, l)
	for i := 0; i < l && !r.failed; i++ {
		k := reflect.New(t.Key()).Elem()
		e := reflect.New(t.Elem()).Elem()
		r.read(k)
		r.read(e)
		m.SetMapIndex(k, e)
	}
	if m.Len() != l {
		r.failed = true // a key twice
	}
	v.Set(m)
}

// fieldPos decodes the l entries of a fieldPos, the most frequent map (a few per endpoint),
// without reflection.
func (r *valueReader) fieldPos(l int) fieldPos {
	m := make(fieldPos, l)
	for i := 0; i < l && !r.failed; i++ {
		k := r.str()
		line, col := r.varint(), r.varint()
		if line < math.MinInt32 || line > math.MaxInt32 || col < math.MinInt32 || col > math.MaxInt32 {
			r.failed = true
		}
		m[k] = Pos{Line: int(line), Col: int(col)}
	}
	if len(m) != l {
		r.failed = true
	}
	return m
}

// encodeResult returns the encoding of a file's result.
func encodeResult(b []byte, fr *fileResult) []byte {
	return appendValue(b, reflect.ValueOf(fr).Elem())
}

// decodeResult decodes what encodeResult wrote; every byte must be used.
func decodeResult(b []byte) (*fileResult, error) {
	fr := &fileResult{}
	r := &valueReader{b: string(b)}
	r.read(reflect.ValueOf(fr).Elem())
	if r.failed || len(r.b) != 0 {
		return nil, errCorrupt
	}
	return fr, nil
}

package failover

import (
	"bytes"
	"encoding"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"reflect"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"
)

// testPoint is a registered type.
type testPoint struct{ X, Y int32 }

func (p testPoint) MarshalBinary() ([]byte, error) {
	return binary.BigEndian.AppendUint32(binary.BigEndian.AppendUint32(nil, uint32(p.X)), uint32(p.Y)), nil
}

func decodeTestPoint(b []byte) (testPoint, error) {
	if len(b) != 8 {
		return testPoint{}, errors.New("testPoint: not 8 bytes")
	}
	return testPoint{int32(binary.BigEndian.Uint32(b)), int32(binary.BigEndian.Uint32(b[4:]))}, nil
}

// testQuirk is a registered type whose MarshalBinary and decode fail or
// panic on demand.
type testQuirk string

var errTestQuirk = errors.New("testQuirk refused")

func (q testQuirk) MarshalBinary() ([]byte, error) {
	switch q {
	case "marshal-panic":
		panic("testQuirk")
	case "marshal-error":
		return nil, errTestQuirk
	}
	return []byte(q), nil
}

func decodeTestQuirk(b []byte) (testQuirk, error) {
	switch string(b) {
	case "decode-panic":
		panic("testQuirk")
	case "decode-error", "marshal-panic", "marshal-error":
		return "", errTestQuirk
	}
	return testQuirk(b), nil
}

// testLongName is registered under a name of the longest length.
type testLongName struct{}

func (testLongName) MarshalBinary() ([]byte, error) { return nil, nil }

// myInt is not registered: not replicable.
type myInt int

func init() {
	Register("failover.testPoint", decodeTestPoint)
	Register("failover.testQuirk", decodeTestQuirk)
	Register(strings.Repeat("n", 255), func(b []byte) (testLongName, error) {
		if len(b) > 0 {
			return testLongName{}, errors.New("testLongName: data")
		}
		return testLongName{}, nil
	})
}

// roundTripCases has a value of every replicable type, by name.
func roundTripCases() map[string]any {
	india := time.FixedZone("IST", 5*3600+30*60)
	lmt := time.FixedZone("LMT", 3600+25) // seconds, positive: fine
	return map[string]any{
		"nil":           nil,
		"true":          true,
		"false":         false,
		"string":        "héllo, \x00\xff",
		"empty string":  "",
		"int":           42,
		"int zero":      0,
		"int max":       math.MaxInt,
		"int min":       math.MinInt,
		"int8 min":      int8(math.MinInt8),
		"int8 max":      int8(math.MaxInt8),
		"int16 min":     int16(math.MinInt16),
		"int32 max":     int32(math.MaxInt32),
		"int64 min":     int64(math.MinInt64),
		"int64 max":     int64(math.MaxInt64),
		"uint":          uint(7),
		"uint max":      uint(math.MaxUint),
		"uint8 max":     uint8(math.MaxUint8),
		"uint16 max":    uint16(math.MaxUint16),
		"uint32 max":    uint32(math.MaxUint32),
		"uint64 max":    uint64(math.MaxUint64),
		"float32":       float32(1.5),
		"float32 NaN":   math.Float32frombits(0x7fc00001),
		"float32 sNaN":  math.Float32frombits(0xff800001), // signalling, negative
		"float32 -0":    float32(math.Copysign(0, -1)),
		"float32 +Inf":  float32(math.Inf(1)),
		"float64":       math.Pi,
		"float64 NaN":   math.Float64frombits(0xfff8000000000123),
		"float64 sNaN":  math.Float64frombits(0x7ff0000000000001),
		"float64 -Inf":  math.Inf(-1),
		"float64 -0":    math.Copysign(0, -1),
		"float64 tiny":  math.SmallestNonzeroFloat64,
		"bytes":         []byte{0, 1, 0xff},
		"empty bytes":   []byte{},
		"time UTC":      time.Date(2024, 2, 29, 23, 59, 59, 999999999, time.UTC),
		"time India":    time.Date(1999, 12, 31, 12, 0, 0, 5, india),
		"time LMT":      time.Date(1890, 1, 1, 0, 0, 0, 0, lmt),
		"time now":      time.Now(), // with a monotonic reading, dropped
		"time zero":     time.Time{},
		"duration":      -90 * time.Second,
		"strings":       []string{"a", "", "c"},
		"empty strings": []string{},
		"string map":    map[string]string{"b": "2", "a": "1", "": ""},
		"list":          []any{1, "x", nil, []any{int8(2), []string{"s"}}, map[string]any{"k": uint(3)}},
		"empty list":    []any{},
		"map":           map[string]any{"z": 1.0, "a": map[string]any{"b": []any{true}}, "": "empty key"},
		"empty map":     map[string]any{},
		"registered":    testPoint{1, -2},
		"in a list":     []any{testPoint{3, 4}, testQuirk("ok")},
		"quirk":         testQuirk(""),
		"longest name":  testLongName{},
	}
}

// sameValue reports whether b is a round trip of a: same types, floats
// bit for bit, times the same instant and offset.
func sameValue(a, b any) bool {
	switch a := a.(type) {
	case float32:
		b, ok := b.(float32)
		return ok && math.Float32bits(a) == math.Float32bits(b)
	case float64:
		b, ok := b.(float64)
		return ok && math.Float64bits(a) == math.Float64bits(b)
	case time.Time:
		b, ok := b.(time.Time)
		_, oa := a.Zone()
		_, ob := b.Zone()
		return ok && a.Equal(b) && oa == ob && b.Location() != nil
	case []any:
		b, ok := b.([]any)
		if !ok || len(a) != len(b) {
			return false
		}
		for i := range a {
			if !sameValue(a[i], b[i]) {
				return false
			}
		}
		return true
	case map[string]any:
		b, ok := b.(map[string]any)
		if !ok || len(a) != len(b) {
			return false
		}
		for k, v := range a {
			if w, ok := b[k]; !ok || !sameValue(v, w) {
				return false
			}
		}
		return true
	}
	return reflect.DeepEqual(a, b)
}

// mustEncode encodes props with lim, which must skip nothing.
func mustEncode(t testing.TB, props map[string]any, lim Limits) []byte {
	t.Helper()
	b, skipped, err := EncodeProperties(nil, props, lim)
	if err != nil || len(skipped) > 0 {
		t.Fatalf("EncodeProperties: skipped %q, err %v", skipped, err)
	}
	return b
}

func roundTrip(t *testing.T, props map[string]any) map[string]any {
	t.Helper()
	b := mustEncode(t, props, Limits{})
	got, err := DecodeProperties(b, Limits{})
	if err != nil {
		t.Fatalf("DecodeProperties: %v\n% x", err, b)
	}
	return got
}

func TestPropertiesRoundTrip(t *testing.T) {
	cases := roundTripCases()
	for name, v := range cases {
		t.Run(name, func(t *testing.T) {
			if err := Replicable(v); err != nil {
				t.Fatalf("Replicable: %v", err)
			}
			got := roundTrip(t, map[string]any{name: v})
			if len(got) != 1 || !sameValue(v, got[name]) {
				t.Fatalf("got %#v (%T), want %#v (%T)", got[name], got[name], v, v)
			}
		})
	}
	got := roundTrip(t, cases)
	if !sameValue(cases, got) {
		t.Fatalf("all in one map: got %#v", got)
	}

	// Appending to dst keeps it.
	prefix := []byte("prefix")
	out, _, err := EncodeProperties(slices.Clip(prefix), cases, Limits{})
	if err != nil || !bytes.HasPrefix(out, prefix) || !bytes.Equal(out[len(prefix):], mustEncode(t, cases, Limits{})) {
		t.Fatalf("appending to dst: %v", err)
	}
}

// Nil []byte, []string, []any and maps come back empty, not nil.
func TestPropertiesNilContainers(t *testing.T) {
	got := roundTrip(t, map[string]any{
		"bytes": []byte(nil), "strings": []string(nil), "string map": map[string]string(nil),
		"list": []any(nil), "map": map[string]any(nil),
	})
	want := map[string]any{
		"bytes": []byte{}, "strings": []string{}, "string map": map[string]string{},
		"list": []any{}, "map": map[string]any{},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %#v", got)
	}
	b := mustEncode(t, nil, Limits{})
	if !bytes.Equal(b, []byte{propsVersion, 0}) {
		t.Fatalf("nil props: % x", b)
	}
	if m, err := DecodeProperties(b, Limits{}); err != nil || m == nil || len(m) != 0 {
		t.Fatalf("empty props: %#v, %v", m, err)
	}
}

func TestPropertiesSkipped(t *testing.T) {
	n := 1
	cyclic := map[string]any{"x": 1}
	cyclic["self"] = cyclic
	loop := []any{nil}
	loop[0] = loop
	props := map[string]any{
		"ok":            1,
		"also ok":       []any{"x", map[string]any{"y": testPoint{}}},
		"struct":        struct{ X int }{1},
		"pointer":       &n,
		"myInt":         myInt(3),
		"func in list":  []any{1, func() {}},
		"deep chan":     map[string]any{"a": []any{map[string]any{"b": make(chan int)}}},
		"int slice":     []int{1},
		"any map":       map[any]any{},
		"marshal error": testQuirk("marshal-error"),
		"marshal panic": []any{testQuirk("marshal-panic")},
		"cyclic map":    cyclic,
		"cyclic list":   loop,
		"negative LMT":  time.Date(1900, 1, 1, 0, 0, 0, 0, time.FixedZone("LMT", -(25*60+21))),
		"minus 1 min":   time.Date(1900, 1, 1, 0, 0, 0, 0, time.FixedZone("", -60)), // -1 means UTC in Go's format
	}
	b, skipped, err := EncodeProperties(nil, props, Limits{})
	want := []string{"any map", "cyclic list", "cyclic map", "deep chan", "func in list", "int slice",
		"marshal error", "marshal panic", "minus 1 min", "myInt", "negative LMT", "pointer", "struct"}
	if err != nil || !slices.Equal(skipped, want) {
		t.Fatalf("skipped %q, err %v; want %q", skipped, err, want)
	}
	got, err := DecodeProperties(b, Limits{})
	if err != nil || len(got) != 2 || !sameValue(props["ok"], got["ok"]) || !sameValue(props["also ok"], got["also ok"]) {
		t.Fatalf("decoded %#v, %v", got, err)
	}
}

func TestReplicable(t *testing.T) {
	n := 1
	cyclic := map[string]any{}
	cyclic["k"] = []any{cyclic}
	for _, c := range []struct {
		v    any
		want string
	}{
		{myInt(3), ": failover.myInt"},
		{struct{}{}, ": struct {}"},
		{[]any{1, func() {}}, ": func() at [1]"},
		{map[string]any{"a": []any{0, &n}}, `: *int at ["a"][1]`},
		{cyclic, `contains itself at ["k"][0]`},
		{time.Date(1900, 1, 1, 0, 0, 0, 0, time.FixedZone("LMT", -121)), "-121s: not whole minutes"},
		{time.Date(1900, 1, 1, 0, 0, 0, 0, time.FixedZone("", -60)), "zone offset"},
		{[]int{}, "[]int"},
	} {
		err := Replicable(c.v)
		if !errors.Is(err, ErrNotReplicable) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Replicable(%T): %v, want one with %q", c.v, err, c.want)
		}
	}
	// Types only: MarshalBinary is not called.
	if err := Replicable(testQuirk("marshal-error")); err != nil {
		t.Errorf("Replicable(testQuirk): %v", err)
	}
	// Shared containers are checked once: 2^64 paths, 64 maps.
	dag := map[string]any{"leaf": 1}
	for range 64 {
		dag = map[string]any{"a": dag, "b": []any{dag, dag}}
	}
	if err := Replicable(dag); err != nil {
		t.Fatalf("Replicable(dag): %v", err)
	}
	// Replicable but too large: an error, not skipped.
	if _, skipped, err := EncodeProperties(nil, map[string]any{"dag": dag}, Limits{}); !errors.Is(err, ErrTooLarge) || skipped != nil {
		t.Fatalf("encoding the dag: skipped %q, %v", skipped, err)
	}
}

func TestPropertiesDeterministic(t *testing.T) {
	build := func(keys []int) map[string]any {
		m := map[string]any{}
		for _, i := range keys {
			k := fmt.Sprint("k", i)
			inner, ss := map[string]any{}, map[string]string{}
			for _, j := range keys {
				inner[fmt.Sprint(j)] = j
				ss[fmt.Sprint(j)] = k
			}
			m[k] = []any{inner, ss}
		}
		return m
	}
	up, down := make([]int, 60), make([]int, 60)
	for i := range up {
		up[i], down[i] = i, 59-i
	}
	a, b := mustEncode(t, build(up), Limits{MaxValues: 1 << 20}), mustEncode(t, build(down), Limits{MaxValues: 1 << 20})
	if !bytes.Equal(a, b) {
		t.Fatal("insertion order changes the encoding")
	}
	cases := roundTripCases()
	if !bytes.Equal(mustEncode(t, cases, Limits{}), mustEncode(t, cases, Limits{})) {
		t.Fatal("two encodings differ")
	}
}

func TestDefaultLimits(t *testing.T) {
	want := Limits{MaxBytes: 1 << 20, MaxValues: 4096, MaxDepth: 16, MaxKeyBytes: 1024}
	if got := DefaultLimits(); got != want {
		t.Fatalf("DefaultLimits() = %+v", got)
	}
	if got := (Limits{}).withDefaults(); got != want {
		t.Fatalf("zero Limits: %+v", got)
	}
	got := (Limits{MaxBytes: -1, MaxDepth: 3}).withDefaults()
	if got != (Limits{MaxBytes: 1 << 20, MaxValues: 4096, MaxDepth: 3, MaxKeyBytes: 1024}) {
		t.Fatalf("partial Limits: %+v", got)
	}
}

// Each limit refuses one more than it allows, on encode and on decode.
func TestPropertiesLimits(t *testing.T) {
	key10 := strings.Repeat("k", 10)
	for _, c := range []struct {
		name  string
		props map[string]any
		n     int // the least that fits; 0: the encoded size
		set   func(*Limits, int)
	}{
		{"bytes", map[string]any{"s": strings.Repeat("x", 100)}, 0, func(l *Limits, n int) { l.MaxBytes = n }},
		{"bytes, with a count of 2 bytes", func() map[string]any {
			m := map[string]any{}
			for i := range 200 {
				m[fmt.Sprint(i)] = nil
			}
			return m
		}(), 0, func(l *Limits, n int) { l.MaxBytes = n }},
		{"bytes of a registered type", map[string]any{"q": testQuirk(strings.Repeat("x", 300))}, 0, func(l *Limits, n int) { l.MaxBytes = n }},
		{"values", map[string]any{"a": []any{1, 2, 3}, "b": []string{"x", "y"}, "c": map[string]string{"k": "v"}, "d": map[string]any{"e": nil}},
			11, func(l *Limits, n int) { l.MaxValues = n }},
		{"depth", map[string]any{"v": []any{map[string]any{"w": []any{}}}}, 3, func(l *Limits, n int) { l.MaxDepth = n }},
		{"top-level key", map[string]any{key10: 1}, 10, func(l *Limits, n int) { l.MaxKeyBytes = n }},
		{"nested key", map[string]any{"m": []any{map[string]any{key10: 1}}}, 10, func(l *Limits, n int) { l.MaxKeyBytes = n }},
		{"string map key", map[string]any{"m": map[string]string{key10: ""}}, 10, func(l *Limits, n int) { l.MaxKeyBytes = n }},
	} {
		t.Run(c.name, func(t *testing.T) {
			b := mustEncode(t, c.props, Limits{})
			n := c.n
			if n == 0 {
				n = len(b)
			}
			var fits, tight Limits
			c.set(&fits, n)
			c.set(&tight, n-1)
			if got := mustEncode(t, c.props, fits); !bytes.Equal(got, b) {
				t.Fatal("encodings differ")
			}
			dst := []byte("dst")
			if out, skipped, err := EncodeProperties(dst, c.props, tight); !errors.Is(err, ErrTooLarge) || skipped != nil || string(out) != "dst" {
				t.Fatalf("encode over the limit: %q, skipped %q, %v", out, skipped, err)
			}
			if _, err := DecodeProperties(b, fits); err != nil {
				t.Fatalf("decode within the limit: %v", err)
			}
			if _, err := DecodeProperties(b, tight); !errors.Is(err, ErrTooLarge) {
				t.Fatalf("decode over the limit: %v", err)
			}
		})
	}
}

// nested returns props of one entry nesting depth lists or maps.
func nested(tag byte, depth int) []byte {
	b := []byte{propsVersion, 1, 1, 'a'}
	for range depth {
		if b = append(b, tag, 1); tag == tagMap {
			b = append(b, 0) // key ""
		}
	}
	return append(b, tagNil)
}

func TestPropertiesDeepNesting(t *testing.T) {
	for _, tag := range []byte{tagList, tagMap} {
		if _, err := DecodeProperties(nested(tag, 16), Limits{}); err != nil {
			t.Fatalf("tag %d, depth 16: %v", tag, err)
		}
		for _, depth := range []int{17, 10000} {
			if _, err := DecodeProperties(nested(tag, depth), Limits{}); !errors.Is(err, ErrTooLarge) {
				t.Fatalf("tag %d, depth %d: %v", tag, depth, err)
			}
		}
	}
}

// one returns props of one entry "a" whose value is v.
func one(v ...byte) []byte { return append([]byte{propsVersion, 1, 1, 'a'}, v...) }

func TestPropertiesCorrupt(t *testing.T) {
	// Every strict prefix, of the whole table and of each of its entries
	// (whose truncations are found deeper).
	cases := roundTripCases()
	valid := mustEncode(t, cases, Limits{})
	encodings := [][]byte{valid}
	for k, v := range cases {
		encodings = append(encodings, mustEncode(t, map[string]any{k: v}, Limits{}))
	}
	for _, b := range encodings {
		for i := range b {
			if _, err := DecodeProperties(b[:i], Limits{}); !errors.Is(err, ErrCorrupt) {
				t.Fatalf("prefix of %d bytes of % x: %v", i, b, err)
			}
		}
	}
	if _, err := DecodeProperties(append(valid, 0), Limits{}); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("trailing byte: %v", err)
	}

	tm, _ := time.Date(2020, 1, 2, 3, 4, 5, 6, time.FixedZone("", 3600)).MarshalBinary()
	timeV2 := append(append([]byte{2}, tm[1:]...), 0) // version 2, 0 seconds of offset
	timeNs := slices.Clone(tm)
	binary.BigEndian.PutUint32(timeNs[9:], 1e9)
	timeNegNs := slices.Clone(tm)
	binary.BigEndian.PutUint32(timeNegNs[9:], 1<<31)
	quirk := func(s string) []byte { return mustEncode(t, map[string]any{"q": testQuirk(s)}, Limits{}) }
	cat := func(bs ...[]byte) []byte { return bytes.Join(bs, nil) }
	for _, c := range []struct {
		name string
		b    []byte
		want string // in the error
	}{
		{"empty", nil, "empty"},
		{"version 0", []byte{0, 0}, "version"},
		{"version 2", []byte{2, 0}, "version"},
		{"unsorted keys", []byte{1, 2, 1, 'b', tagNil, 1, 'a', tagNil}, "increasing"},
		{"duplicate keys", []byte{1, 2, 1, 'a', tagNil, 1, 'a', tagNil}, "increasing"},
		{"unsorted nested keys", one(tagMap, 2, 1, 'b', tagNil, 1, 'a', tagNil), "increasing"},
		{"duplicate string map keys", one(tagStringMap, 2, 1, 'a', 0, 1, 'a', 0), "increasing"},
		{"unknown tag", one(200), "tag 200"},
		{"non-minimal count", []byte{1, 0x80, 0}, "varint"},
		{"non-minimal int", one(tagInt, 0x82, 0), "varint"},
		{"varint overflow", one(tagUint64, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 1), "varint"},
		{"int8 out of range", one(binary.AppendVarint([]byte{tagInt8}, 128)...), "int8"},
		{"int32 out of range", one(binary.AppendVarint([]byte{tagInt32}, math.MinInt32-1)...), "int32"},
		{"uint8 out of range", one(binary.AppendUvarint([]byte{tagUint8}, 256)...), "uint8"},
		{"truncated float64", one(tagFloat64, 0, 0, 0), "truncated"},
		{"time of 3 bytes", one(tagTime, 3, 1, 2, 3), "time"},
		{"time version 2 without seconds", one(cat([]byte{tagTime, byte(len(timeV2))}, timeV2)...), "time"},
		{"time of 1e9 ns", one(cat([]byte{tagTime, byte(len(tm))}, timeNs)...), "time"},
		{"time of negative ns", one(cat([]byte{tagTime, byte(len(tm))}, timeNegNs)...), "time"},
		{"unknown registered type", one(tagRegistered, 4, 'n', 'o', 'p', 'e', 0), `"nope"`},
		{"registered type without a name", one(tagRegistered, 0, 0), "name"},
		{"registered data refused", one(tagRegistered, 18, 'f', 'a', 'i', 'l', 'o', 'v', 'e', 'r', '.', 't', 'e', 's', 't', 'P', 'o', 'i', 'n', 't', 1, 0), "testPoint"},
		{"registered decode error", quirk("decode-error"), "testQuirk refused"},
		{"registered decode panic", quirk("decode-panic"), "panicked"},
	} {
		_, err := DecodeProperties(c.b, Limits{})
		if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want ErrCorrupt with %q", c.name, err, c.want)
		}
	}
	if _, err := DecodeProperties(quirk("decode-error"), Limits{}); !errors.Is(err, errTestQuirk) {
		t.Errorf("a decode error is not wrapped: %v", err)
	}
}

// allocated returns the bytes f allocates, on average over runs.
func allocated(runs int, f func()) uint64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	for range runs {
		f()
	}
	runtime.ReadMemStats(&after)
	return (after.TotalAlloc - before.TotalAlloc) / uint64(runs)
}

// A length claiming 2^40 bytes is refused before anything is allocated.
func TestPropertiesHugeLength(t *testing.T) {
	huge := binary.AppendUvarint(nil, 1<<40)
	tag := func(tag byte) []byte { return one(append([]byte{tag}, huge...)...) }
	for name, b := range map[string][]byte{
		"count":           append([]byte{propsVersion}, huge...),
		"key":             append([]byte{propsVersion, 1}, huge...),
		"string":          tag(tagString),
		"bytes":           tag(tagBytes),
		"time":            tag(tagTime),
		"strings":         tag(tagStrings),
		"string map":      tag(tagStringMap),
		"list":            tag(tagList),
		"map":             tag(tagMap),
		"registered name": tag(tagRegistered),
		"registered data": one(append([]byte{tagRegistered, 1, 'x'}, huge...)...),
	} {
		lim := Limits{MaxValues: math.MaxInt}
		var err error
		start := time.Now()
		n := allocated(100, func() { _, err = DecodeProperties(b, lim) })
		if !errors.Is(err, ErrCorrupt) || n > 1024 || time.Since(start) > time.Second {
			t.Errorf("%s: %v, %d bytes allocated per decode in %v", name, err, n, time.Since(start)/100)
		}
	}
}

// Nested containers cannot claim the same bytes: what a decode allocates
// stays a small multiple of the input (were the claims of 16 nested
// containers counted separately, it would be 16 times as much).
func TestPropertiesAllocationBound(t *testing.T) {
	const pad = 1 << 16
	lim := Limits{MaxValues: math.MaxInt}
	for name, b := range map[string][]byte{
		"lists": func() []byte {
			b := one()
			for range 16 {
				b = binary.AppendUvarint(append(b, tagList), pad)
			}
			return append(b, make([]byte, pad)...)
		}(),
		"maps": func() []byte {
			b := one()
			for range 16 {
				b = binary.AppendUvarint(append(b, tagMap), pad/2)
				b = append(b, 0) // key ""
			}
			return append(b, make([]byte, pad)...)
		}(),
		"valid list of nils": one(append(binary.AppendUvarint([]byte{tagList}, pad), make([]byte, pad)...)...),
	} {
		n := allocated(5, func() { DecodeProperties(b, lim) })
		if n > 64*uint64(len(b)) {
			t.Errorf("%s: %d bytes allocated for %d bytes, %.1f per byte", name, n, len(b), float64(n)/float64(len(b)))
		}
	}
}

func TestRegisterPanics(t *testing.T) {
	type fresh struct{ testPoint }
	decodeFresh := func([]byte) (fresh, error) { return fresh{}, nil }
	for name, f := range map[string]func(){
		"empty name":      func() { Register("", decodeFresh) },
		"long name":       func() { Register(strings.Repeat("n", 256), decodeFresh) },
		"nil decode":      func() { Register[fresh]("failover.fresh", nil) },
		"taken name":      func() { Register("failover.testPoint", decodeFresh) },
		"registered type": func() { Register("failover.testPoint2", decodeTestPoint) },
		"interface": func() {
			Register("failover.iface", func([]byte) (encoding.BinaryMarshaler, error) { return nil, nil })
		},
		"time.Time": func() { Register("failover.time", func([]byte) (time.Time, error) { return time.Time{}, nil }) },
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s: no panic", name)
				}
			}()
			f()
		}()
	}
	if Replicable(fresh{}) == nil {
		t.Fatal("a refused registration registered")
	}
}

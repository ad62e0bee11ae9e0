package failover

import (
	"bytes"
	"encoding"
	"encoding/binary"
	"errors"
	"fmt"
	"maps"
	"math"
	"reflect"
	"slices"
	"sync"
	"time"
)

// The codec of user properties: what "replicable" means, and how a map of
// replicable values travels between nodes. The encoding (version 1) is
//
//	props = version:byte entries
//	entries = count:uvarint (key value)*   keys strictly increasing
//	key, string = len:uvarint bytes
//	value = tag:byte payload               (see the tags)
//
// It is canonical: a value has one encoding, and the decoder refuses any
// other (unsorted or duplicate keys, non-minimal varints, out-of-range
// integers, non-canonical times), so decoding and encoding again gives the
// same bytes.

// Errors of the properties codec. The errors returned wrap one of them with
// detail.
var (
	// ErrNotReplicable: a value's type cannot be replicated (Replicable).
	ErrNotReplicable = errors.New("failover: value is not replicable")
	// ErrCorrupt: bytes from a peer are not what the encoder writes.
	ErrCorrupt = errors.New("failover: corrupt properties")
	// ErrTooLarge: properties exceed the Limits.
	ErrTooLarge = errors.New("failover: properties too large")
)

// Limits bound what EncodeProperties writes and what DecodeProperties
// accepts from a peer. A zero (or negative) field means its default (see
// DefaultLimits).
type Limits struct {
	// MaxBytes bounds the encoded size of one map (default 1 MiB).
	MaxBytes int
	// MaxValues bounds the number of values in one map, nested ones
	// included: every top-level entry counts, and every element of a
	// []any, map[string]any, []string or map[string]string (default 4096).
	MaxValues int
	// MaxDepth bounds the nesting of []any and map[string]any: one that is
	// a top-level value is at depth 1, one inside it at depth 2 (default
	// 16).
	MaxDepth int
	// MaxKeyBytes bounds the length of a key, in any map (default 1024).
	MaxKeyBytes int
}

// DefaultLimits returns the default limits: 1 MiB, 4096 values, depth 16,
// keys of 1024 bytes.
func DefaultLimits() Limits {
	return Limits{MaxBytes: 1 << 20, MaxValues: 4096, MaxDepth: 16, MaxKeyBytes: 1024}
}

// withDefaults fills the zero (or negative) fields.
func (l Limits) withDefaults() Limits {
	d := DefaultLimits()
	if l.MaxBytes <= 0 {
		l.MaxBytes = d.MaxBytes
	}
	if l.MaxValues <= 0 {
		l.MaxValues = d.MaxValues
	}
	if l.MaxDepth <= 0 {
		l.MaxDepth = d.MaxDepth
	}
	if l.MaxKeyBytes <= 0 {
		l.MaxKeyBytes = d.MaxKeyBytes
	}
	return l
}

const propsVersion = 1

// Tags: the first byte of a value, before its payload. They are part of
// the format: never renumber them.
const (
	tagNil        = iota // no payload
	tagFalse             // no payload
	tagTrue              // no payload
	tagString            // string
	tagInt               // varint
	tagInt8              // varint, in range
	tagInt16             // varint, in range
	tagInt32             // varint, in range
	tagInt64             // varint
	tagUint              // uvarint
	tagUint8             // uvarint, in range
	tagUint16            // uvarint, in range
	tagUint32            // uvarint, in range
	tagUint64            // uvarint
	tagFloat32           // 4 bytes: little-endian IEEE 754 bits
	tagFloat64           // 8 bytes: little-endian IEEE 754 bits
	tagBytes             // []byte: len:uvarint bytes
	tagTime              // time.Time: len:uvarint MarshalBinary (15 or 16 bytes)
	tagDuration          // time.Duration: varint
	tagStrings           // []string: count:uvarint string*
	tagStringMap         // map[string]string: count:uvarint (key string)*, keys strictly increasing
	tagList              // []any: count:uvarint value*
	tagMap               // map[string]any: entries
	tagRegistered        // name:string data:string, data from MarshalBinary
)

// maxTypeName bounds the name of a registered type.
const maxTypeName = 255

// EncodeProperties appends the encoding of props to dst. Replicable values
// (see Replicable) are encoded; the others are left out and their keys
// returned in sorted order (skipped): a value nested in a []any or
// map[string]any that is not replicable leaves out its whole top-level
// entry, as does a registered type whose MarshalBinary fails or panics.
// The encoding is deterministic: keys are sorted at every level.
//
// It returns dst and an ErrTooLarge error when the encoding would exceed
// lim (bytes, values, depth or a key's length; a cyclic value is skipped).
// A nil props encodes as an empty map.
func EncodeProperties(dst []byte, props map[string]any, lim Limits) (out []byte, skipped []string, err error) {
	var pad [binary.MaxVarintLen64]byte // room for the count, known at the end
	e := propEncoder{
		buf:  append(append(dst, propsVersion), pad[:]...),
		lim:  lim.withDefaults(),
		base: len(dst) + len(pad) - 1, // the count takes at least a byte
	}
	body, n := len(e.buf), 0
	for _, k := range slices.Sorted(maps.Keys(props)) {
		mark, values := len(e.buf), e.values
		e.add(1)
		e.key(k)
		err := e.value(props[k], 1)
		if err == nil {
			n++
			continue
		}
		e.buf, e.values, e.err = e.buf[:mark], values, nil
		if errors.Is(err, ErrTooLarge) && Replicable(props[k]) == nil {
			return dst, nil, err
		}
		skipped = append(skipped, k)
	}
	at := len(dst) + 1
	c := binary.PutUvarint(e.buf[at:], uint64(n))
	out = e.buf[:at+c+copy(e.buf[at+c:], e.buf[body:])]
	if len(out)-len(dst) > e.lim.MaxBytes {
		return dst, nil, fmt.Errorf("%w: more than %d bytes", ErrTooLarge, e.lim.MaxBytes)
	}
	return out, skipped, nil
}

// propEncoder appends values to buf. Its first error (a limit) sticks.
type propEncoder struct {
	buf    []byte
	lim    Limits
	base   int // len(buf)-base: the encoded size so far, a lower bound
	values int
	err    error
}

func (e *propEncoder) fail(format string, args ...any) {
	if e.err == nil {
		e.err = fmt.Errorf("%w: %s", ErrTooLarge, fmt.Sprintf(format, args...))
	}
}

// add counts n values.
func (e *propEncoder) add(n int) {
	if e.values += n; e.values > e.lim.MaxValues {
		e.fail("more than %d values", e.lim.MaxValues)
	}
}

// fits reports whether n more bytes are within MaxBytes.
func (e *propEncoder) fits(n int) bool {
	if len(e.buf)-e.base+n > e.lim.MaxBytes {
		e.fail("more than %d bytes", e.lim.MaxBytes)
	}
	return e.err == nil
}

func (e *propEncoder) tag(t byte) { e.buf = append(e.buf, t) }

func (e *propEncoder) uvarint(x uint64) { e.buf = binary.AppendUvarint(e.buf, x) }

// str appends a length and the bytes of s, when they fit.
func str[S string | []byte](e *propEncoder, s S) {
	if e.err != nil {
		return
	}
	if e.uvarint(uint64(len(s))); e.fits(len(s)) {
		e.buf = append(e.buf, s...)
	}
}

func (e *propEncoder) key(k string) {
	if len(k) > e.lim.MaxKeyBytes {
		e.fail("a key of %d bytes, more than %d", len(k), e.lim.MaxKeyBytes)
		return
	}
	str(e, k)
}

// count appends the count of a container's n elements.
func (e *propEncoder) count(t byte, n int) {
	e.tag(t)
	e.add(n)
	e.uvarint(uint64(n))
}

// nest checks the depth of a container at level.
func (e *propEncoder) nest(level int) bool {
	if level > e.lim.MaxDepth {
		e.fail("nested deeper than %d", e.lim.MaxDepth)
	}
	return e.err == nil
}

// value appends v, a value at level (1: top-level). It returns
// ErrNotReplicable when v is not replicable, or the encoder's error.
func (e *propEncoder) value(v any, level int) error {
	if e.err != nil {
		return e.err
	}
	switch v := v.(type) {
	case nil:
		e.tag(tagNil)
	case bool:
		if v {
			e.tag(tagTrue)
		} else {
			e.tag(tagFalse)
		}
	case string:
		e.tag(tagString)
		str(e, v)
	case int:
		e.varint(tagInt, int64(v))
	case int8:
		e.varint(tagInt8, int64(v))
	case int16:
		e.varint(tagInt16, int64(v))
	case int32:
		e.varint(tagInt32, int64(v))
	case int64:
		e.varint(tagInt64, v)
	case uint:
		e.tag(tagUint)
		e.uvarint(uint64(v))
	case uint8:
		e.tag(tagUint8)
		e.uvarint(uint64(v))
	case uint16:
		e.tag(tagUint16)
		e.uvarint(uint64(v))
	case uint32:
		e.tag(tagUint32)
		e.uvarint(uint64(v))
	case uint64:
		e.tag(tagUint64)
		e.uvarint(v)
	case float32:
		e.buf = binary.LittleEndian.AppendUint32(append(e.buf, tagFloat32), math.Float32bits(v))
	case float64:
		e.buf = binary.LittleEndian.AppendUint64(append(e.buf, tagFloat64), math.Float64bits(v))
	case []byte:
		e.tag(tagBytes)
		str(e, v)
	case time.Time:
		b, err := timeBinary(v)
		if err != nil {
			return ErrNotReplicable
		}
		e.tag(tagTime)
		str(e, b)
	case time.Duration:
		e.varint(tagDuration, int64(v))
	case []string:
		e.count(tagStrings, len(v))
		for _, s := range v {
			str(e, s)
		}
	case map[string]string:
		e.count(tagStringMap, len(v))
		for _, k := range slices.Sorted(maps.Keys(v)) {
			e.key(k)
			str(e, v[k])
		}
	case []any:
		if e.nest(level) {
			e.count(tagList, len(v))
			for _, x := range v {
				if err := e.value(x, level+1); err != nil {
					return err
				}
			}
		}
	case map[string]any:
		if e.nest(level) {
			e.count(tagMap, len(v))
			for _, k := range slices.Sorted(maps.Keys(v)) {
				e.key(k)
				if err := e.value(v[k], level+1); err != nil {
					return err
				}
			}
		}
	default:
		r := lookupType(reflect.TypeOf(v))
		if r == nil {
			return ErrNotReplicable
		}
		b, err := marshal(v.(encoding.BinaryMarshaler))
		if err != nil {
			return ErrNotReplicable
		}
		e.tag(tagRegistered)
		str(e, r.name)
		str(e, b)
	}
	e.fits(0)
	return e.err
}

func (e *propEncoder) varint(t byte, x int64) {
	e.buf = binary.AppendVarint(append(e.buf, t), x)
}

// marshal calls m.MarshalBinary, turning a panic into an error.
func marshal(m encoding.BinaryMarshaler) (b []byte, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("MarshalBinary panicked: %v", p)
		}
	}()
	return m.MarshalBinary()
}

// timeBinary is t.MarshalBinary, refused when decoding would not give t
// back: Go restores a negative zone offset with seconds (a historical
// local mean time) wrongly.
func timeBinary(t time.Time) ([]byte, error) {
	_, off := t.Zone()
	b, err := t.MarshalBinary()
	if err == nil && off < 0 && off%60 != 0 {
		err = errors.New("not whole minutes")
	}
	if err != nil {
		return nil, fmt.Errorf("time.Time with zone offset %ds: %v", off, err)
	}
	return b, nil
}

// Replicable reports whether v can be replicated: nil, or an
// ErrNotReplicable error naming the type that cannot and where it is in v.
//
// The replicable types are nil, bool, string, int, int8, int16, int32,
// int64, uint, uint8, uint16, uint32, uint64, float32, float64, []byte,
// time.Time, time.Duration, []string, map[string]string, the registered
// types (Register), and []any and map[string]any whose elements are
// replicable and that do not contain themselves. The type must be exactly
// one of these: a named type such as `type myInt int` is not replicable
// unless registered. Nor is a time.Time whose zone offset Go's binary
// format does not carry back (negative and not whole minutes, or -1
// minute).
//
// Replicable looks at types only: it does not call the MarshalBinary of
// registered types, nor check Limits.
func Replicable(v any) error {
	var c checker
	if err := c.check(v); err != nil {
		return err
	}
	return nil
}

// typeError is Replicable's error; path locates the value in containers.
type typeError struct{ what, path string }

func (e *typeError) Error() string {
	s := ErrNotReplicable.Error() + ": " + e.what
	if e.path != "" {
		s += " at " + e.path
	}
	return s
}

func (e *typeError) Unwrap() error { return ErrNotReplicable }

// checker walks a value once per container: a container is false while its
// elements are checked, true once they are. Meeting a false one again is a
// cycle; meeting a true one again (shared) costs nothing.
type checker map[container]bool

// container identifies a non-empty []any or map[string]any.
type container struct {
	p uintptr
	n int
}

func (c *checker) check(v any) *typeError {
	switch x := v.(type) {
	case nil, bool, string, int, int8, int16, int32, int64, uint, uint8, uint16, uint32, uint64,
		float32, float64, []byte, time.Duration, []string, map[string]string:
	case time.Time:
		if _, err := timeBinary(x); err != nil {
			return &typeError{what: err.Error()}
		}
	case []any:
		k, walk, err := c.enter(v, len(x))
		if !walk {
			return err
		}
		for i, e := range x {
			if err := c.check(e); err != nil {
				err.path = fmt.Sprintf("[%d]", i) + err.path
				return err
			}
		}
		(*c)[k] = true
	case map[string]any:
		k, walk, err := c.enter(v, len(x))
		if !walk {
			return err
		}
		for key, e := range x {
			if err := c.check(e); err != nil {
				err.path = fmt.Sprintf("[%q]", key) + err.path
				return err
			}
		}
		(*c)[k] = true
	default:
		if lookupType(reflect.TypeOf(v)) == nil {
			return &typeError{what: fmt.Sprintf("%T", v)}
		}
	}
	return nil
}

// enter reports whether the elements of v, a container of n elements, are
// to be checked, or the error of a cycle.
func (c *checker) enter(v any, n int) (k container, walk bool, err *typeError) {
	if n == 0 {
		return k, false, nil
	}
	if *c == nil {
		*c = checker{}
	}
	k = container{reflect.ValueOf(v).Pointer(), n}
	done, seen := (*c)[k]
	switch {
	case !seen:
		(*c)[k] = false
		return k, true, nil
	case !done:
		return k, false, &typeError{what: fmt.Sprintf("%T that contains itself", v)}
	}
	return k, false, nil
}

// DecodeProperties decodes what EncodeProperties wrote, from a peer: it
// trusts nothing. Malformed, truncated, trailing or non-canonical input
// gives an ErrCorrupt error, input beyond lim an ErrTooLarge error. It
// never panics (not even when a registered decode function does), and what
// it allocates, besides what registered decode functions do, is a small
// multiple of len(b): every length and count is checked against the bytes
// left, and counts against MaxValues, before anything is allocated.
//
// Values come back with their exact types. A nil []byte, []string, []any
// or map comes back empty, not nil. A time.Time comes back as the same
// instant in a zone of the same offset (UTC stays UTC, an offset that is
// Local's at that instant gives Local, any other a nameless fixed zone),
// without its monotonic clock reading.
func DecodeProperties(b []byte, lim Limits) (map[string]any, error) {
	d := propDecoder{b: b, size: len(b), lim: lim.withDefaults()}
	switch {
	case len(b) > d.lim.MaxBytes:
		return nil, d.fail(ErrTooLarge, "%d bytes, more than %d", len(b), d.lim.MaxBytes)
	case len(b) == 0:
		return nil, d.fail(ErrCorrupt, "empty")
	case b[0] != propsVersion:
		return nil, d.fail(ErrCorrupt, "unknown version %d", b[0])
	}
	d.b = b[1:]
	m, err := d.entries(1)
	if err == nil && len(d.b) > 0 {
		err = d.fail(ErrCorrupt, "%d trailing bytes", len(d.b))
	}
	if err != nil {
		return nil, err
	}
	return m, nil
}

// propDecoder reads values from b.
type propDecoder struct {
	b      []byte // what is left
	size   int    // of the whole input, for offsets in errors
	lim    Limits
	values int
	// need is the least number of bytes, among those left, that the
	// elements not yet started of the containers being decoded take.
	// Lengths and counts are checked against the bytes left beyond need,
	// so that nested containers cannot claim the same bytes: all in all,
	// no more elements are allocated than there are bytes in the input.
	need int
}

func (d *propDecoder) fail(sentinel error, format string, args ...any) error {
	return fmt.Errorf("%w: %s (at byte %d)", sentinel, fmt.Sprintf(format, args...), d.size-len(d.b))
}

// uvarint reads a minimal uvarint.
func (d *propDecoder) uvarint() (uint64, error) {
	x, n := binary.Uvarint(d.b)
	if n <= 0 || n > 1 && d.b[n-1] == 0 {
		return 0, d.fail(ErrCorrupt, "bad varint")
	}
	d.b = d.b[n:]
	return x, nil
}

// varint reads a minimal zig-zag varint.
func (d *propDecoder) varint() (int64, error) {
	x, err := d.uvarint()
	return int64(x>>1) ^ -int64(x&1), err
}

// length reads the length of something whose elements take at least per
// bytes each, checked against the bytes left.
func (d *propDecoder) length(per int) (int, error) {
	x, err := d.uvarint()
	if left := max(len(d.b)-d.need, 0); err == nil && x > uint64(left/per) {
		err = d.fail(ErrCorrupt, "length %d, with %d bytes left", x, left)
	}
	return int(x), err
}

// count reads the element count of a container whose elements take at
// least per bytes each, and reserves those bytes (need).
func (d *propDecoder) count(per int) (int, error) {
	n, err := d.length(per)
	if err != nil {
		return 0, err
	}
	if d.values += n; d.values > d.lim.MaxValues {
		return 0, d.fail(ErrTooLarge, "more than %d values", d.lim.MaxValues)
	}
	d.need += n * per
	return n, nil
}

// data reads a length and as many bytes, without copying them.
func (d *propDecoder) data() ([]byte, error) {
	n, err := d.length(1)
	if err != nil {
		return nil, err
	}
	p := d.b[:n:n]
	d.b = d.b[n:]
	return p, nil
}

// str reads a string of at most limit bytes.
func (d *propDecoder) str(limit int) (string, error) {
	p, err := d.data()
	if err == nil && len(p) > limit {
		err = d.fail(ErrTooLarge, "a key of %d bytes, more than %d", len(p), limit)
	}
	return string(p), err
}

// key reads the key of element i of a map, after prev.
func (d *propDecoder) key(i int, prev string) (string, error) {
	d.need -= 2 // a map's element: a key's length and a value's first byte at least
	k, err := d.str(d.lim.MaxKeyBytes)
	if err == nil && i > 0 && k <= prev {
		err = d.fail(ErrCorrupt, "keys not strictly increasing")
	}
	return k, err
}

// fixed reads n bytes.
func (d *propDecoder) fixed(n int) ([]byte, error) {
	if len(d.b) < n {
		return nil, d.fail(ErrCorrupt, "truncated")
	}
	p := d.b[:n]
	d.b = d.b[n:]
	return p, nil
}

// nest checks the depth of a container at level.
func (d *propDecoder) nest(level int) error {
	if level > d.lim.MaxDepth {
		return d.fail(ErrTooLarge, "nested deeper than %d", d.lim.MaxDepth)
	}
	return nil
}

// entries reads a map[string]any whose values are at level.
func (d *propDecoder) entries(level int) (map[string]any, error) {
	n, err := d.count(2)
	if err != nil {
		return nil, err
	}
	m := make(map[string]any, n)
	var k string
	for i := range n {
		if k, err = d.key(i, k); err != nil {
			return nil, err
		}
		if m[k], err = d.value(level); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// value reads a value at level (1: top-level).
func (d *propDecoder) value(level int) (any, error) {
	p, err := d.fixed(1)
	if err != nil {
		return nil, err
	}
	switch tag := p[0]; tag {
	case tagNil:
		return nil, nil
	case tagFalse, tagTrue:
		return tag == tagTrue, nil
	case tagString:
		return d.str(math.MaxInt)
	case tagInt:
		return decodeInt[int](d)
	case tagInt8:
		return decodeInt[int8](d)
	case tagInt16:
		return decodeInt[int16](d)
	case tagInt32:
		return decodeInt[int32](d)
	case tagInt64:
		return decodeInt[int64](d)
	case tagUint:
		return decodeUint[uint](d)
	case tagUint8:
		return decodeUint[uint8](d)
	case tagUint16:
		return decodeUint[uint16](d)
	case tagUint32:
		return decodeUint[uint32](d)
	case tagUint64:
		return decodeUint[uint64](d)
	case tagFloat32:
		if p, err = d.fixed(4); err != nil {
			return nil, err
		}
		return math.Float32frombits(binary.LittleEndian.Uint32(p)), nil
	case tagFloat64:
		if p, err = d.fixed(8); err != nil {
			return nil, err
		}
		return math.Float64frombits(binary.LittleEndian.Uint64(p)), nil
	case tagBytes:
		p, err = d.data()
		return append([]byte{}, p...), err
	case tagTime:
		if p, err = d.data(); err != nil {
			return nil, err
		}
		return d.time(p)
	case tagDuration:
		return decodeInt[time.Duration](d)
	case tagStrings:
		n, err := d.count(1)
		if err != nil {
			return nil, err
		}
		l := make([]string, n)
		for i := range l {
			d.need--
			if l[i], err = d.str(math.MaxInt); err != nil {
				return nil, err
			}
		}
		return l, nil
	case tagStringMap:
		n, err := d.count(2)
		if err != nil {
			return nil, err
		}
		m := make(map[string]string, n)
		var k string
		for i := range n {
			if k, err = d.key(i, k); err != nil {
				return nil, err
			}
			if m[k], err = d.str(math.MaxInt); err != nil {
				return nil, err
			}
		}
		return m, nil
	case tagList:
		if err := d.nest(level); err != nil {
			return nil, err
		}
		n, err := d.count(1)
		if err != nil {
			return nil, err
		}
		l := make([]any, n)
		for i := range l {
			d.need--
			if l[i], err = d.value(level + 1); err != nil {
				return nil, err
			}
		}
		return l, nil
	case tagMap:
		if err := d.nest(level); err != nil {
			return nil, err
		}
		m, err := d.entries(level + 1)
		if err != nil {
			return nil, err
		}
		return m, nil
	case tagRegistered:
		return d.registered()
	default:
		return nil, d.fail(ErrCorrupt, "unknown tag %d", tag)
	}
}

func decodeInt[T int | int8 | int16 | int32 | int64 | time.Duration](d *propDecoder) (any, error) {
	x, err := d.varint()
	if err == nil && int64(T(x)) != x {
		err = d.fail(ErrCorrupt, "%T out of range", T(0))
	}
	if err != nil {
		return nil, err
	}
	return T(x), nil
}

func decodeUint[T uint | uint8 | uint16 | uint32 | uint64](d *propDecoder) (any, error) {
	x, err := d.uvarint()
	if err == nil && uint64(T(x)) != x {
		err = d.fail(ErrCorrupt, "%T out of range", T(0))
	}
	if err != nil {
		return nil, err
	}
	return T(x), nil
}

// time decodes p, which must be exactly what timeBinary writes.
func (d *propDecoder) time(p []byte) (any, error) {
	var t time.Time
	if err := t.UnmarshalBinary(p); err != nil {
		return nil, d.fail(ErrCorrupt, "time: %v", err)
	}
	// Go does not check the nanoseconds (bytes 9 to 12 of 15 or 16).
	ns := int32(binary.BigEndian.Uint32(p[9:13]))
	again, err := timeBinary(t)
	if ns < 0 || ns >= 1e9 || err != nil || !bytes.Equal(again, p) {
		return nil, d.fail(ErrCorrupt, "non-canonical time")
	}
	return t, nil
}

func (d *propDecoder) registered() (any, error) {
	name, err := d.data()
	if err != nil {
		return nil, err
	}
	if len(name) == 0 || len(name) > maxTypeName {
		return nil, d.fail(ErrCorrupt, "type name of %d bytes", len(name))
	}
	data, err := d.data()
	if err != nil {
		return nil, err
	}
	regMu.RLock()
	r := regByName[string(name)]
	regMu.RUnlock()
	if r == nil {
		return nil, d.fail(ErrCorrupt, "unknown registered type %q", name)
	}
	v, err := r.rebuild(data)
	if err != nil {
		return nil, fmt.Errorf("%w: registered type %q: %w (at byte %d)", ErrCorrupt, name, err, d.size-len(d.b))
	}
	return v, nil
}

// registered is a type made replicable by Register.
type registered struct {
	name   string
	decode func([]byte) (any, error)
}

var (
	regMu     sync.RWMutex
	regByName = map[string]*registered{}
	regByType = map[reflect.Type]*registered{}
)

// lookupType returns the registration of t, or nil.
func lookupType(t reflect.Type) *registered {
	regMu.RLock()
	defer regMu.RUnlock()
	return regByType[t]
}

// rebuild calls r.decode, turning a panic into an error.
func (r *registered) rebuild(data []byte) (v any, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("decode panicked: %v", p)
		}
	}()
	return r.decode(data)
}

// Register makes values of type T replicable under name, like
// gob.Register: a value encodes as name and its MarshalBinary, and decode
// rebuilds it on the node that decodes, where T must be registered under
// the same name (else the properties are corrupt there). MarshalBinary
// should be deterministic; decode must not retain its argument, must
// refuse data it cannot rebuild (an error makes the whole properties
// corrupt), and is called with bytes from peers.
//
// Register is meant for init functions. It panics on an empty name or one
// longer than 255 bytes, a nil decode, a name or a type registered before,
// an interface type, and time.Time (replicable already).
func Register[T encoding.BinaryMarshaler](name string, decode func([]byte) (T, error)) {
	t := reflect.TypeFor[T]()
	switch {
	case name == "" || len(name) > maxTypeName:
		panic(fmt.Sprintf("failover: Register %v: name %q is empty or longer than %d bytes", t, name, maxTypeName))
	case decode == nil:
		panic(fmt.Sprintf("failover: Register %v: nil decode", t))
	case t.Kind() == reflect.Interface:
		panic(fmt.Sprintf("failover: Register %v: an interface type", t))
	case t == reflect.TypeFor[time.Time]():
		panic("failover: Register time.Time: replicable already")
	}
	regMu.Lock()
	defer regMu.Unlock()
	if r := regByType[t]; r != nil {
		panic(fmt.Sprintf("failover: Register %v: registered already as %q", t, r.name))
	}
	if regByName[name] != nil {
		panic(fmt.Sprintf("failover: Register %v: name %q taken", t, name))
	}
	r := &registered{name: name, decode: func(b []byte) (any, error) {
		v, err := decode(b)
		if err != nil {
			return nil, err
		}
		return v, nil
	}}
	regByName[name], regByType[t] = r, r
}

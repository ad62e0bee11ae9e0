package failover

import (
	"encoding/binary"
	"fmt"
)

// The data plane: request/response messages between nodes, carried by
// memberlist's reliable user messages (one TCP stream each, encrypted and
// labelled by memberlist). Every message starts with its kind, the
// request id (0: no reply wanted) and the sender's node name.

// kind is a message type.
type kind byte

const (
	kReplicate kind = 1 + iota // primary → backup: a record's latest state
	kAck                       // backup → primary: the answer to a replicate (unasked when stale)
	kFetch                     // any node → the others: who holds this record?
	kFetched                   // the answer to a fetch
	kBatch                     // primary → backup: several replicates, no answer unless stale
)

// Limits of a message from a peer, checked before anything is allocated.
const (
	maxNameBytes = 1024 // node, space and session names
	maxBatch     = 4096 // records in one batch
)

// msg is one data-plane message. Which fields mean something depends on
// kind.
type msg struct {
	kind  kind
	req   uint64 // request id; replies carry the request's
	from  string // sender's node name
	space string // web context
	id    string // HTTP session id
	rec   wireRecord
	found bool  // fetched: the sender holds the record
	stale bool  // ack: the sender holds a claim that outranks (rec.epoch and rec.primary are it)
	batch []msg // batch: the replicates (kind kReplicate, from set)
	err   error // not on the wire: the request could not be sent to from
}

// wireRecord is the replicated state of one session.
type wireRecord struct {
	epoch, seq uint64
	primary    string // the node that wrote it
	expires    int64  // unix nanoseconds after which the HTTP session is gone; 0: never
	timeout    int64  // the HTTP session's max inactive interval, nanoseconds
	tomb       bool   // invalidated
	props      []byte // EncodeProperties: the WebSocket user properties
	attrs      []byte // EncodeProperties: the HTTP session's attributes
}

// outranks reports whether r's claim beats o's: a higher epoch, or, when
// two nodes took the session over at once with the same epoch, the
// greater primary name. Only the claim that outranks every other may
// write.
func (r *wireRecord) outranks(o *wireRecord) bool {
	if r.epoch != o.epoch {
		return r.epoch > o.epoch
	}
	return r.primary > o.primary
}

// newer reports whether r is a later version than o: a claim that
// outranks o's, or, under the same claim, a later change.
func (r *wireRecord) newer(o *wireRecord) bool {
	if r.epoch != o.epoch || r.primary != o.primary {
		return r.outranks(o)
	}
	if r.seq != o.seq {
		return r.seq > o.seq
	}
	return r.tomb && !o.tomb
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func appendBool(b []byte, v bool) []byte {
	if v {
		return append(b, 1)
	}
	return append(b, 0)
}

// encode appends m's wire form to b.
func (m *msg) encode(b []byte) []byte {
	b = append(b, byte(m.kind))
	b = binary.AppendUvarint(b, m.req)
	b = appendString(b, m.from)
	switch m.kind {
	case kReplicate, kFetched:
		b = appendBool(b, m.found)
		b = m.appendEntry(b)
	case kBatch:
		b = binary.AppendUvarint(b, uint64(len(m.batch)))
		for i := range m.batch {
			b = m.batch[i].appendEntry(b)
		}
	case kAck:
		b = appendString(b, m.space)
		b = appendString(b, m.id)
		b = appendBool(b, m.stale)
		b = binary.AppendUvarint(b, m.rec.epoch)
		b = appendString(b, m.rec.primary)
	case kFetch:
		b = appendString(b, m.space)
		b = appendString(b, m.id)
	}
	return b
}

// appendEntry appends a record and its names.
func (m *msg) appendEntry(b []byte) []byte {
	b = appendString(b, m.space)
	b = appendString(b, m.id)
	r := &m.rec
	b = binary.AppendUvarint(b, r.epoch)
	b = binary.AppendUvarint(b, r.seq)
	b = appendString(b, r.primary)
	b = binary.AppendVarint(b, r.expires)
	b = binary.AppendVarint(b, r.timeout)
	b = appendBool(b, r.tomb)
	b = binary.AppendUvarint(b, uint64(len(r.props)))
	b = append(b, r.props...)
	b = binary.AppendUvarint(b, uint64(len(r.attrs)))
	return append(b, r.attrs...)
}

// readEntry reads what appendEntry wrote into m.
func (r *reader) readEntry(m *msg, maxProps int) {
	m.space = r.string("space")
	m.id = r.string("session id")
	rec := &m.rec
	rec.epoch = r.uvarint("epoch")
	rec.seq = r.uvarint("seq")
	rec.primary = r.string("primary")
	rec.expires = r.varint("expiry")
	rec.timeout = r.varint("timeout")
	rec.tomb = r.bool("tombstone")
	rec.props = r.bytes("properties", maxProps)
	rec.attrs = r.bytes("attributes", maxProps)
}

// reader decodes a message from a peer, remembering the first error.
type reader struct {
	b   []byte
	err error
}

func (r *reader) fail(what string) {
	if r.err == nil {
		r.err = fmt.Errorf("%w: message: bad %s", ErrCorrupt, what)
	}
}

func (r *reader) uvarint(what string) uint64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.fail(what)
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) varint(what string) int64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Varint(r.b)
	if n <= 0 {
		r.fail(what)
		return 0
	}
	r.b = r.b[n:]
	return v
}

// bytes returns the next length-prefixed bytes (aliasing the input), at
// most limit long.
func (r *reader) bytes(what string, limit int) []byte {
	n := r.uvarint(what)
	if r.err != nil {
		return nil
	}
	if n > uint64(len(r.b)) || n > uint64(limit) {
		r.fail(what)
		return nil
	}
	v := r.b[:n:n]
	r.b = r.b[n:]
	return v
}

func (r *reader) string(what string) string { return string(r.bytes(what, maxNameBytes)) }

func (r *reader) bool(what string) bool {
	if r.err != nil {
		return false
	}
	if len(r.b) == 0 || r.b[0] > 1 {
		r.fail(what)
		return false
	}
	v := r.b[0] == 1
	r.b = r.b[1:]
	return v
}

// decodeMsg decodes a message; props longer than maxProps are refused.
// The result's props alias b.
func decodeMsg(b []byte, maxProps int) (msg, error) {
	var m msg
	if len(b) == 0 {
		return m, fmt.Errorf("%w: empty message", ErrCorrupt)
	}
	m.kind = kind(b[0])
	r := &reader{b: b[1:]}
	m.req = r.uvarint("request id")
	m.from = r.string("sender")
	switch m.kind {
	case kReplicate, kFetched:
		m.found = r.bool("found")
		r.readEntry(&m, maxProps)
	case kBatch:
		// An entry takes at least 10 bytes: the count cannot promise
		// more entries than the bytes left hold.
		n := r.uvarint("batch length")
		if n > maxBatch || n > uint64(len(r.b))/10 {
			r.fail("batch length")
			break
		}
		m.batch = make([]msg, n)
		for i := range m.batch {
			e := &m.batch[i]
			e.kind, e.from = kReplicate, m.from
			r.readEntry(e, maxProps)
		}
	case kAck:
		m.space = r.string("space")
		m.id = r.string("session id")
		m.stale = r.bool("stale")
		m.rec.epoch = r.uvarint("epoch")
		m.rec.primary = r.string("primary")
	case kFetch:
		m.space = r.string("space")
		m.id = r.string("session id")
	default:
		return m, fmt.Errorf("%w: message kind %d", ErrCorrupt, m.kind)
	}
	if r.err == nil && len(r.b) != 0 {
		r.fail("length (trailing bytes)")
	}
	return m, r.err
}

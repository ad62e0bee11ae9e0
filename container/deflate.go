package container

import (
	"compress/flate"
	"errors"
	"io"
	"sync"

	"github.com/gobwas/httphead"
	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsflate"
)

// permessage-deflate (RFC 7692).
//
// The server always compresses with server_no_context_takeover, so it keeps
// no compressor per session: compressors are pooled. It inflates with the
// client's context unless the client offered client_no_context_takeover:
// then each session keeps the last 32 KiB it inflated as the dictionary of
// the next message (Go's flate reader cannot be fed across messages).
// Inflated output is bounded by the message limit, so a small compressed
// message cannot expand without bound.

const (
	// minCompressBytes: smaller messages go out uncompressed (allowed per
	// message by RFC 7692 §6.1); they would not shrink.
	minCompressBytes = 64
	// windowBytes is the LZ77 window of permessage-deflate (2^15).
	windowBytes = 32 << 10
)

var (
	errInflate    = errors.New("compressed message does not inflate")
	errInflateBig = errors.New("inflated message exceeds the limit")
)

// deflateTail ends a message's compressed bytes: the 4 bytes RFC 7692 §7.2.2
// says the sender removes, then an empty final stored block so the reader
// reports a clean io.EOF.
var deflateTail = []byte{0x00, 0x00, 0xff, 0xff, 0x01, 0x00, 0x00, 0xff, 0xff}

// deflateState is the permessage-deflate state of one session.
type deflateState struct {
	takeover bool   // the client keeps its LZ77 context across messages
	window   []byte // [loop] last windowBytes of inflated output, when takeover
}

// negotiateDeflate chooses a response to the client's permessage-deflate
// offers: the first one we can honour. Offers asking for a server window
// below 2^15 are declined (Go's compressor always uses 2^15), as are
// malformed ones; the handshake goes on without the extension.
func negotiateDeflate(offer httphead.Option, st **deflateState) (httphead.Option, error) {
	if *st != nil || string(offer.Name) != wsflate.ExtensionName {
		return httphead.Option{}, nil
	}
	var p wsflate.Parameters
	if err := p.Parse(offer); err != nil {
		return httphead.Option{}, nil
	}
	if p.ServerMaxWindowBits.Defined() && p.ServerMaxWindowBits < 15 {
		return httphead.Option{}, nil
	}
	accept := wsflate.Parameters{
		ServerNoContextTakeover: true,
		ClientNoContextTakeover: p.ClientNoContextTakeover,
	}
	*st = &deflateState{takeover: !p.ClientNoContextTakeover}
	return accept.Option(), nil
}

var flateWriters = sync.Pool{New: func() any {
	w, _ := flate.NewWriter(nil, flate.BestSpeed)
	return w
}}

var flateReaders sync.Pool

// bufWriter appends to a pooled buffer.
type bufWriter struct{ b *[]byte }

func (w *bufWriter) Write(p []byte) (int, error) {
	w.b = growBuf(w.b, len(p))
	*w.b = append(*w.b, p...)
	return len(p), nil
}

// compress returns a compressed frame for payload, or false when
// compression does not make it smaller.
func (d *deflateState) compress(op ws.OpCode, payload []byte) (wframe, bool) {
	fb := getBuf(maxHeaderBytes + len(payload)/2 + 64)
	*fb = (*fb)[:maxHeaderBytes] // room for the header, written in front later
	bw := &bufWriter{b: fb}
	fw := flateWriters.Get().(*flate.Writer)
	fw.Reset(bw)
	_, _ = fw.Write(payload)
	_ = fw.Flush()
	flateWriters.Put(fw)
	fb = bw.b
	body := (*fb)[maxHeaderBytes:]
	// A sync flush ends with 00 00 ff ff, which the frame leaves out.
	if len(body) >= 4 {
		body = body[:len(body)-4]
	}
	if len(body) >= len(payload) {
		putBuf(fb)
		return wframe{}, false
	}
	hl := headerLen(len(body))
	start := maxHeaderBytes - hl
	appendHeader((*fb)[start:start], op, true, true, len(body))
	return wframe{b: (*fb)[start : maxHeaderBytes+len(body)], own: fb}, true
}

// sliceReader reads a then b; it is an io.ByteReader so that flate reads
// from it directly, without a bufio.Reader of its own.
type sliceReader struct{ a, b []byte }

func (r *sliceReader) ReadByte() (byte, error) {
	if len(r.a) == 0 {
		r.a, r.b = r.b, nil
		if len(r.a) == 0 {
			return 0, io.EOF
		}
	}
	c := r.a[0]
	r.a = r.a[1:]
	return c, nil
}

func (r *sliceReader) Read(p []byte) (int, error) {
	if len(r.a) == 0 {
		r.a, r.b = r.b, nil
		if len(r.a) == 0 {
			return 0, io.EOF
		}
	}
	n := copy(p, r.a)
	r.a = r.a[n:]
	return n, nil
}

// inflate decompresses one message into a pooled buffer, failing with
// errInflateBig as soon as the output passes limit.
func (d *deflateState) inflate(compressed []byte, limit int) (*[]byte, error) {
	if len(compressed) == 0 {
		// Not valid deflate data, but some clients send it for an empty
		// message (RFC 7692 §7.2.3.6 says to send a 0x00 byte); accept it.
		return nil, nil
	}
	src := &sliceReader{a: compressed, b: deflateTail}
	var fr io.ReadCloser
	if v := flateReaders.Get(); v != nil {
		fr = v.(io.ReadCloser)
		_ = fr.(flate.Resetter).Reset(src, d.window)
	} else {
		fr = flate.NewReaderDict(src, d.window)
	}
	defer flateReaders.Put(fr)
	out := getBuf(min(limit+1, max(2*len(compressed), 512)))
	for {
		if len(*out) == cap(*out) {
			if len(*out) > limit {
				putBuf(out)
				return nil, errInflateBig
			}
			out = growBuf(out, min(cap(*out), limit+1-len(*out)))
		}
		n, err := fr.Read((*out)[len(*out):cap(*out)])
		*out = (*out)[:len(*out)+n]
		if len(*out) > limit {
			putBuf(out)
			return nil, errInflateBig
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			putBuf(out)
			return nil, errInflate
		}
	}
	if d.takeover {
		d.remember(*out)
	}
	return out, nil
}

// remember keeps the last windowBytes of inflated output as the next
// message's dictionary.
func (d *deflateState) remember(p []byte) {
	if len(p) >= windowBytes {
		if d.window == nil {
			d.window = make([]byte, 0, windowBytes)
		}
		d.window = append(d.window[:0], p[len(p)-windowBytes:]...)
		return
	}
	if d.window == nil {
		d.window = make([]byte, 0, windowBytes)
	}
	if keep := windowBytes - len(p); len(d.window) > keep {
		d.window = append(d.window[:0], d.window[len(d.window)-keep:]...)
	}
	d.window = append(d.window, p...)
}

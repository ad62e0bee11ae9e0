package main

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"

	"github.com/gobwas/ws"
)

// WebSocket frames are parsed by hand from a bufio.Reader, without
// allocating, and built once per connection with a fixed mask: only the
// bytes that change per message (sequence number, time stamp) are masked
// again before each write.

// frameHeader is a parsed server frame header.
type frameHeader struct {
	fin bool
	rsv byte // the three RSV bits, in the low bits
	op  ws.OpCode
	n   int64 // payload length
}

// frameReader reads server frames from a connection. It answers pings with
// pongs written on nc (net.Conn writes are serialised, so a concurrent
// writer goroutine is safe).
type frameReader struct {
	br   *bufio.Reader
	nc   net.Conn
	mask [4]byte
	hdr  [8]byte
	ctl  [125]byte
}

// closeError is a close frame received from the server.
type closeError struct {
	code   int // 1005 when the frame has no code
	reason string
}

// Error tells the close code and reason.
func (e *closeError) Error() string {
	return fmt.Sprintf("server closed the WebSocket: code %d %q", e.code, e.reason)
}

// header reads the next frame header, whatever its opcode. Server frames
// must not be masked.
func (f *frameReader) header() (frameHeader, error) {
	var h frameHeader
	if _, err := io.ReadFull(f.br, f.hdr[:2]); err != nil {
		return h, fmt.Errorf("read frame header: %w", err)
	}
	b0, b1 := f.hdr[0], f.hdr[1]
	h.fin, h.rsv, h.op = b0&0x80 != 0, (b0>>4)&7, ws.OpCode(b0&0x0f)
	n := uint64(b1 & 0x7f)
	switch n {
	case 126:
		if _, err := io.ReadFull(f.br, f.hdr[:2]); err != nil {
			return h, fmt.Errorf("read frame length: %w", err)
		}
		n = uint64(binary.BigEndian.Uint16(f.hdr[:2]))
	case 127:
		if _, err := io.ReadFull(f.br, f.hdr[:8]); err != nil {
			return h, fmt.Errorf("read frame length: %w", err)
		}
		n = binary.BigEndian.Uint64(f.hdr[:8])
	}
	if b1&0x80 != 0 {
		return h, errors.New("protocol: server frame is masked")
	}
	if n > 1<<62 {
		return h, fmt.Errorf("protocol: frame length %d", n)
	}
	h.n = int64(n)
	return h, nil
}

// next returns the header of the next data frame (text, binary or
// continuation); its payload is next in br. Pings are answered, pongs
// skipped. A close frame returns a *closeError.
func (f *frameReader) next() (frameHeader, error) {
	for {
		h, err := f.header()
		if err != nil {
			return h, err
		}
		switch h.op {
		case ws.OpContinuation, ws.OpText, ws.OpBinary:
			return h, nil
		case ws.OpPing, ws.OpPong, ws.OpClose:
		default:
			return h, fmt.Errorf("protocol: reserved opcode %d", h.op)
		}
		if !h.fin || h.n > 125 {
			return h, fmt.Errorf("protocol: control frame opcode %d fin %v length %d", h.op, h.fin, h.n)
		}
		p := f.ctl[:h.n]
		if _, err := io.ReadFull(f.br, p); err != nil {
			return h, fmt.Errorf("read control frame: %w", err)
		}
		switch h.op {
		case ws.OpPing:
			if _, err := f.nc.Write(appendMasked(nil, true, ws.OpPong, p, f.mask)); err != nil {
				return h, fmt.Errorf("write pong: %w", err)
			}
		case ws.OpClose:
			e := &closeError{code: 1005}
			if len(p) >= 2 {
				e.code, e.reason = int(binary.BigEndian.Uint16(p)), string(p[2:])
			}
			return h, e
		}
	}
}

// appendFrameHeader appends a masked client frame header for a payload of
// n bytes.
func appendFrameHeader(b []byte, fin bool, op ws.OpCode, n int, mask [4]byte) []byte {
	b0 := byte(op)
	if fin {
		b0 |= 0x80
	}
	switch {
	case n <= 125:
		b = append(b, b0, 0x80|byte(n))
	case n <= 0xffff:
		b = append(b, b0, 0x80|126, byte(n>>8), byte(n))
	default:
		b = append(b, b0, 0x80|127)
		b = binary.BigEndian.AppendUint64(b, uint64(n))
	}
	return append(b, mask[:]...)
}

// appendMasked appends a whole masked client frame carrying payload.
func appendMasked(b []byte, fin bool, op ws.OpCode, payload []byte, mask [4]byte) []byte {
	b = appendFrameHeader(b, fin, op, len(payload), mask)
	off := len(b)
	b = append(b, payload...)
	ws.Cipher(b[off:], mask, 0)
	return b
}

// patchMasked writes src, masked, at offset pos of a frame payload whose
// masked bytes are dst.
func patchMasked(dst []byte, pos int, src []byte, mask [4]byte) {
	for j, v := range src {
		dst[pos+j] = v ^ mask[(pos+j)&3]
	}
}

// closeFrame returns a masked close frame with the given code.
func closeFrame(code int, mask [4]byte) []byte {
	return appendMasked(nil, true, ws.OpClose, []byte{byte(code >> 8), byte(code)}, mask)
}

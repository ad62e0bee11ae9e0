package container

import (
	"encoding/binary"
	"errors"

	"github.com/gobwas/ws"
)

// Frame header layout (RFC 6455 §5.2): 2 bytes, then 0, 2 or 8 bytes of
// extended length, then 4 bytes of mask for client frames.
const maxHeaderBytes = 14

var errLengthMSB = errors.New("frame length has its most significant bit set")

// decodeHeader decodes the frame header at the start of b without copying.
// It returns n == 0 when b holds only part of the header.
func decodeHeader(b []byte) (h ws.Header, n int, err error) {
	if len(b) < 2 {
		return h, 0, nil
	}
	h.Fin = b[0]&0x80 != 0
	h.Rsv = (b[0] & 0x70) >> 4
	h.OpCode = ws.OpCode(b[0] & 0x0f)
	h.Masked = b[1]&0x80 != 0
	n = 2
	switch l := b[1] & 0x7f; l {
	case 126:
		n += 2
	case 127:
		n += 8
	default:
		h.Length = int64(l)
	}
	if h.Masked {
		n += 4
	}
	if len(b) < n {
		return h, 0, nil
	}
	switch b[1] & 0x7f {
	case 126:
		h.Length = int64(binary.BigEndian.Uint16(b[2:4]))
	case 127:
		u := binary.BigEndian.Uint64(b[2:10])
		if u>>63 != 0 {
			return h, 0, errLengthMSB
		}
		h.Length = int64(u)
	}
	if h.Masked {
		copy(h.Mask[:], b[n-4:n])
	}
	return h, n, nil
}

// appendHeader appends an unmasked server frame header to b.
func appendHeader(b []byte, op ws.OpCode, fin, rsv1 bool, length int) []byte {
	b0 := byte(op)
	if fin {
		b0 |= 0x80
	}
	if rsv1 {
		b0 |= 0x40
	}
	switch {
	case length < 126:
		return append(b, b0, byte(length))
	case length <= 0xffff:
		return append(b, b0, 126, byte(length>>8), byte(length))
	default:
		b = append(b, b0, 127)
		return binary.BigEndian.AppendUint64(b, uint64(length))
	}
}

// headerLen is the size of the header appendHeader writes for length bytes.
func headerLen(length int) int {
	switch {
	case length < 126:
		return 2
	case length <= 0xffff:
		return 4
	}
	return 10
}

// receivableCloseCode reports whether a peer may send code in a close frame
// (RFC 6455 §7.4): 1000–1003, 1007–1014 and 3000–4999. 1004–1006 and 1015
// are reserved and never appear on the wire.
func receivableCloseCode(code uint16) bool {
	switch {
	case code >= 1000 && code <= 1003, code >= 1007 && code <= 1014:
		return true
	case code >= 3000 && code <= 4999:
		return true
	}
	return false
}

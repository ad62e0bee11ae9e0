package container

import (
	"bytes"
	"encoding/binary"
	"testing"

	"github.com/gobwas/ws"
)

// headerCases are client frame headers and their encodings; tests,
// benchmarks and the fuzzer's seed corpus share them.
var headerCases = []struct {
	label string
	raw   []byte
	want  ws.Header
	n     int // bytes of header; 0 = incomplete
	err   bool
}{
	{label: "empty", raw: nil},
	{label: "one_byte", raw: []byte{0x81}},
	{label: "text_5_masked", raw: []byte{0x81, 0x85, 1, 2, 3, 4}, n: 6,
		want: ws.Header{Fin: true, OpCode: ws.OpText, Masked: true, Length: 5, Mask: [4]byte{1, 2, 3, 4}}},
	{label: "mask_incomplete", raw: []byte{0x81, 0x85, 1, 2, 3}},
	{label: "binary_unmasked_0", raw: []byte{0x82, 0x00}, n: 2,
		want: ws.Header{Fin: true, OpCode: ws.OpBinary}},
	{label: "len_125", raw: []byte{0x82, 0x80 | 125, 0, 0, 0, 0}, n: 6,
		want: ws.Header{Fin: true, OpCode: ws.OpBinary, Masked: true, Length: 125}},
	{label: "len_126", raw: []byte{0x82, 0x80 | 126, 0, 126, 9, 9, 9, 9}, n: 8,
		want: ws.Header{Fin: true, OpCode: ws.OpBinary, Masked: true, Length: 126, Mask: [4]byte{9, 9, 9, 9}}},
	{label: "len_16_incomplete", raw: []byte{0x82, 0x80 | 126, 0}},
	{label: "len_65535", raw: []byte{0x02, 0x80 | 126, 0xff, 0xff, 0, 0, 0, 0}, n: 8,
		want: ws.Header{OpCode: ws.OpBinary, Masked: true, Length: 65535}},
	{label: "len_65536", raw: []byte{0x82, 0x80 | 127, 0, 0, 0, 0, 0, 1, 0, 0, 1, 2, 3, 4}, n: 14,
		want: ws.Header{Fin: true, OpCode: ws.OpBinary, Masked: true, Length: 65536, Mask: [4]byte{1, 2, 3, 4}}},
	{label: "len_64_incomplete", raw: []byte{0x82, 0x80 | 127, 0, 0, 0, 0, 0, 1, 0, 0, 1, 2, 3}},
	{label: "len_msb", raw: []byte{0x82, 0x80 | 127, 0x80, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4}, err: true},
	{label: "rsv_all_continuation", raw: []byte{0x70, 0x80, 0, 0, 0, 0}, n: 6,
		want: ws.Header{Rsv: 7, OpCode: ws.OpContinuation, Masked: true}},
	{label: "close", raw: []byte{0x88, 0x82, 0, 0, 0, 0}, n: 6,
		want: ws.Header{Fin: true, OpCode: ws.OpClose, Masked: true, Length: 2}},
}

func TestDecodeHeader(t *testing.T) {
	for _, tc := range headerCases {
		t.Run(tc.label, func(t *testing.T) {
			h, n, err := decodeHeader(tc.raw)
			if (err != nil) != tc.err {
				t.Fatalf("err = %v, want error %v", err, tc.err)
			}
			if tc.err {
				return
			}
			if n != tc.n {
				t.Fatalf("n = %d, want %d", n, tc.n)
			}
			if n > 0 && h != tc.want {
				t.Fatalf("header = %+v, want %+v", h, tc.want)
			}
			// Extra bytes after the header change nothing.
			if n > 0 {
				h2, n2, _ := decodeHeader(append(append([]byte{}, tc.raw...), 0xAA, 0xBB))
				if h2 != h || n2 != n {
					t.Fatalf("with trailing bytes: %+v %d", h2, n2)
				}
			}
		})
	}
}

func TestAppendHeader_minimalLength(t *testing.T) {
	for _, l := range []int{0, 1, 125, 126, 127, 65535, 65536, 1 << 24} {
		b := appendHeader(nil, ws.OpBinary, true, false, l)
		if len(b) != headerLen(l) {
			t.Fatalf("len %d: header is %d bytes, headerLen says %d", l, len(b), headerLen(l))
		}
		want := ws.HeaderSize(ws.Header{Length: int64(l)})
		if len(b) != want {
			t.Fatalf("len %d: header is %d bytes, minimal is %d", l, len(b), want)
		}
		var ref bytes.Buffer
		_ = ws.WriteHeader(&ref, ws.Header{Fin: true, OpCode: ws.OpBinary, Length: int64(l)})
		if !bytes.Equal(b, ref.Bytes()) {
			t.Fatalf("len %d: % x, gobwas writes % x", l, b, ref.Bytes())
		}
	}
	if b := appendHeader(nil, ws.OpText, false, true, 3); b[0] != 0x41 {
		t.Fatalf("rsv1 text non-final: first byte %#x", b[0])
	}
}

func TestReceivableCloseCode(t *testing.T) {
	ok := []uint16{1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 3999, 4000, 4999}
	bad := []uint16{0, 999, 1004, 1005, 1006, 1015, 1016, 2000, 2999, 5000, 65535}
	for _, c := range ok {
		if !receivableCloseCode(c) {
			t.Errorf("%d should be accepted", c)
		}
	}
	for _, c := range bad {
		if receivableCloseCode(c) {
			t.Errorf("%d should be rejected", c)
		}
	}
}

func BenchmarkDecodeHeader(b *testing.B) {
	for _, tc := range headerCases {
		if tc.n == 0 {
			continue
		}
		b.Run(tc.label, func(b *testing.B) {
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				_, _, _ = decodeHeader(tc.raw)
			}
		})
	}
}

// FuzzDecodeHeader checks that decoding never panics, never claims more
// bytes than it was given, and that a decoded header re-encodes to the same
// bytes.
func FuzzDecodeHeader(f *testing.F) {
	for _, tc := range headerCases {
		f.Add(tc.raw)
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		h, n, err := decodeHeader(raw)
		if err != nil || n == 0 {
			return
		}
		if n > len(raw) || n > maxHeaderBytes {
			t.Fatalf("n = %d for %d bytes", n, len(raw))
		}
		// Re-encode with the same length field width and compare.
		var b []byte
		b0 := raw[0]
		b = append(b, b0)
		l7 := raw[1] & 0x7f
		b = append(b, raw[1])
		switch l7 {
		case 126:
			b = binary.BigEndian.AppendUint16(b, uint16(h.Length))
		case 127:
			b = binary.BigEndian.AppendUint64(b, uint64(h.Length))
		}
		if h.Masked {
			b = append(b, h.Mask[:]...)
		}
		if !bytes.Equal(b, raw[:n]) {
			t.Fatalf("re-encoded % x, had % x", b, raw[:n])
		}
		if h.Fin != (b0&0x80 != 0) || h.Rsv != (b0>>4)&7 || byte(h.OpCode) != b0&0xf {
			t.Fatalf("first byte %#x decoded as %+v", b0, h)
		}
	})
}

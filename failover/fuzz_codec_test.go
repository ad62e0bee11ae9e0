package failover

import (
	"bytes"
	"errors"
	"testing"
)

// FuzzDecodeProperties: no input makes DecodeProperties panic or fail with
// another error than ErrCorrupt or ErrTooLarge, and what it accepts is
// canonical: encoding it again gives the input back.
func FuzzDecodeProperties(f *testing.F) {
	cases := roundTripCases()
	for k, v := range cases {
		f.Add(mustEncode(f, map[string]any{k: v}, Limits{}))
	}
	f.Add(mustEncode(f, cases, Limits{}))
	f.Add(mustEncode(f, map[string]any{"q": testQuirk("decode-error"), "r": testQuirk("decode-panic")}, Limits{}))
	f.Add(nested(tagList, 20))
	f.Add([]byte{propsVersion, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		props, err := DecodeProperties(b, Limits{})
		if err != nil {
			if !errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrTooLarge) {
				t.Fatalf("an error that is neither ErrCorrupt nor ErrTooLarge: %v", err)
			}
			return
		}
		again, skipped, err := EncodeProperties(nil, props, DefaultLimits())
		if err != nil || len(skipped) > 0 {
			t.Fatalf("decoded properties do not encode: skipped %q, %v", skipped, err)
		}
		if !bytes.Equal(again, b) {
			t.Fatalf("not canonical:\n in % x\nout % x", b, again)
		}
	})
}

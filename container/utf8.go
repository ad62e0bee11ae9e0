package container

import "unicode/utf8"

// utf8Validator checks UTF-8 that arrives in pieces (the fragments of a text
// message), failing on the first piece that cannot be the start of valid
// text instead of waiting for the whole message. The zero value is ready.
type utf8Validator struct {
	need   uint8 // continuation bytes still expected by the pending sequence
	lo, hi byte  // allowed range of the next continuation byte
}

// reset forgets any pending sequence.
func (v *utf8Validator) reset() { *v = utf8Validator{} }

// complete reports whether the text seen so far ends on a code point boundary.
func (v *utf8Validator) complete() bool { return v.need == 0 }

// feed validates p as the continuation of the text seen so far. It returns
// false as soon as the bytes cannot be part of valid UTF-8, whatever follows.
func (v *utf8Validator) feed(p []byte) bool {
	i := 0
	// Finish the sequence left open by the previous piece.
	for v.need > 0 && i < len(p) {
		if !v.cont(p[i]) {
			return false
		}
		i++
	}
	if i == len(p) {
		return true
	}
	// Split off a trailing incomplete sequence: it starts at most 3 bytes
	// from the end, at the last byte that is not a continuation byte.
	cut := len(p)
	for j := len(p) - 1; j >= i && j >= len(p)-3; j-- {
		if b := p[j]; b&0xC0 != 0x80 {
			if seqLen(b) > len(p)-j {
				cut = j
			}
			break
		}
	}
	if !utf8.Valid(p[i:cut]) {
		return false
	}
	for _, b := range p[cut:] {
		if v.need == 0 {
			if !v.lead(b) {
				return false
			}
		} else if !v.cont(b) {
			return false
		}
	}
	return true
}

// seqLen returns the length of the sequence a lead byte starts, or 1 for a
// byte that cannot lead (the caller then lets utf8.Valid reject it).
func seqLen(b byte) int {
	switch {
	case b >= 0xC2 && b <= 0xDF:
		return 2
	case b >= 0xE0 && b <= 0xEF:
		return 3
	case b >= 0xF0 && b <= 0xF4:
		return 4
	}
	return 1
}

// lead starts a multi-byte sequence with b (Unicode Table 3-7).
func (v *utf8Validator) lead(b byte) bool {
	v.lo, v.hi = 0x80, 0xBF
	switch {
	case b >= 0xC2 && b <= 0xDF:
		v.need = 1
	case b == 0xE0:
		v.need, v.lo = 2, 0xA0
	case b == 0xED:
		v.need, v.hi = 2, 0x9F // no surrogates
	case b >= 0xE1 && b <= 0xEF:
		v.need = 2
	case b == 0xF0:
		v.need, v.lo = 3, 0x90
	case b == 0xF4:
		v.need, v.hi = 3, 0x8F // nothing above U+10FFFF
	case b >= 0xF1 && b <= 0xF3:
		v.need = 3
	default:
		return false
	}
	return true
}

// cont accepts b as the next continuation byte of the pending sequence.
func (v *utf8Validator) cont(b byte) bool {
	if b < v.lo || b > v.hi {
		return false
	}
	v.need--
	v.lo, v.hi = 0x80, 0xBF
	return true
}

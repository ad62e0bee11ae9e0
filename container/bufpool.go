package container

import (
	"math/bits"
	"sync"
)

// Buffers for messages and frames come from size-classed pools so that the
// steady state of a session allocates nothing per message. Classes are powers
// of two from minPooledBuf to maxPooledBuf; larger buffers are allocated and
// left to the garbage collector.
const (
	minPooledShift = 9  // 512 B
	maxPooledShift = 24 // 16 MiB
)

var bufPools [maxPooledShift - minPooledShift + 1]sync.Pool

// poolClass returns the index of the smallest class that holds n bytes, or
// -1 when n is larger than the largest class.
func poolClass(n int) int {
	if n <= 1<<minPooledShift {
		return 0
	}
	shift := bits.Len(uint(n - 1))
	if shift > maxPooledShift {
		return -1
	}
	return shift - minPooledShift
}

// getBuf returns a buffer with len 0 and cap at least n.
func getBuf(n int) *[]byte {
	class := poolClass(n)
	if class < 0 {
		b := make([]byte, 0, n)
		return &b
	}
	if v := bufPools[class].Get(); v != nil {
		b := v.(*[]byte)
		*b = (*b)[:0]
		return b
	}
	b := make([]byte, 0, 1<<(class+minPooledShift))
	return &b
}

// putBuf returns b to its pool. b must not be used afterwards.
func putBuf(b *[]byte) {
	if b == nil {
		return
	}
	c := cap(*b)
	if c < 1<<minPooledShift || c > 1<<maxPooledShift || c&(c-1) != 0 {
		return
	}
	bufPools[bits.Len(uint(c))-1-minPooledShift].Put(b)
}

// growBuf returns a buffer holding the bytes of b with room for at least n
// more, reusing b when it is big enough and recycling it otherwise.
func growBuf(b *[]byte, n int) *[]byte {
	if b == nil {
		return getBuf(n)
	}
	if cap(*b)-len(*b) >= n {
		return b
	}
	want := len(*b) + n
	if want < 2*cap(*b) {
		want = 2 * cap(*b)
	}
	nb := getBuf(want)
	*nb = append(*nb, *b...)
	putBuf(b)
	return nb
}

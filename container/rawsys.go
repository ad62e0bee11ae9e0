package container

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// Raw system calls for the per-message path.
//
// A socket the container reads and writes after the hand-off is
// non-blocking, so its read, write and writev return at once; so does
// epoll_wait with a zero timeout. Made through unix.Syscall, each would
// also tell the Go scheduler that the goroutine may block (entersyscall
// and exitsyscall): two of these calls per echoed message, a few percent
// of the server's CPU under load. Made raw, they keep the P, as the
// runtime's own netpoller does with epoll_wait. A large write holds the P
// for its copy into the socket buffer, so past rawWriteMax the scheduler
// is told, as it is for a blocking call.

// rawWriteMax is the largest write made without telling the scheduler.
const rawWriteMax = 64 << 10

// errnoErr returns e as an error, without boxing the common values.
func errnoErr(e unix.Errno) error {
	switch e {
	case 0:
		return nil
	case unix.EAGAIN:
		return errEAGAIN
	case unix.EINTR:
		return errEINTR
	}
	return e
}

var (
	errEAGAIN error = unix.EAGAIN
	errEINTR  error = unix.EINTR
)

// rawRead is unix.Read for a non-blocking descriptor.
func rawRead(fd int, p []byte) (int, error) {
	r, _, e := unix.RawSyscall(unix.SYS_READ, uintptr(fd), uintptr(unsafe.Pointer(unsafe.SliceData(p))), uintptr(len(p)))
	if e != 0 {
		return -1, errnoErr(e)
	}
	return int(r), nil
}

// rawWrite is unix.Write for a non-blocking descriptor.
func rawWrite(fd int, p []byte) (int, error) {
	call := unix.RawSyscall
	if len(p) > rawWriteMax {
		call = unix.Syscall
	}
	r, _, e := call(unix.SYS_WRITE, uintptr(fd), uintptr(unsafe.Pointer(unsafe.SliceData(p))), uintptr(len(p)))
	if e != 0 {
		return -1, errnoErr(e)
	}
	return int(r), nil
}

// rawWritev is writev for a non-blocking descriptor, raw for a vector of
// at most rawWriteMax bytes in all (n).
func rawWritev(fd int, v []unix.Iovec, n int) (int, unix.Errno) {
	call := unix.RawSyscall
	if n > rawWriteMax {
		call = unix.Syscall
	}
	r, _, e := call(unix.SYS_WRITEV, uintptr(fd), uintptr(unsafe.Pointer(unsafe.SliceData(v))), uintptr(len(v)))
	return int(r), e
}

// epollWaitNow is epoll_wait with a zero timeout: the events ready now.
func epollWaitNow(epfd int, events []unix.EpollEvent) (int, error) {
	r, _, e := unix.RawSyscall6(unix.SYS_EPOLL_PWAIT, uintptr(epfd), uintptr(unsafe.Pointer(unsafe.SliceData(events))), uintptr(len(events)), 0, 0, 0)
	if e != 0 {
		return -1, errnoErr(e)
	}
	return int(r), nil
}

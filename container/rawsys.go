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

// rawWriteMax is the most bytes a call moves without telling the scheduler.
const rawWriteMax = 64 << 10

// nonblocking makes the system call trap(fd, p, n) on a non-blocking
// descriptor for a read, write or writev moving up to size bytes: raw
// unless size is over rawWriteMax. An Errno below 256, as every one is,
// becomes an error without an allocation.
func nonblocking(trap uintptr, fd int, p unsafe.Pointer, n, size int) (int, error) {
	call := unix.RawSyscall
	if size > rawWriteMax {
		call = unix.Syscall
	}
	r, _, e := call(trap, uintptr(fd), uintptr(p), uintptr(n))
	if e != 0 {
		return -1, e
	}
	return int(r), nil
}

// rawRead is unix.Read for a non-blocking descriptor.
func rawRead(fd int, p []byte) (int, error) {
	return nonblocking(unix.SYS_READ, fd, unsafe.Pointer(unsafe.SliceData(p)), len(p), len(p))
}

// rawWrite is unix.Write for a non-blocking descriptor.
func rawWrite(fd int, p []byte) (int, error) {
	return nonblocking(unix.SYS_WRITE, fd, unsafe.Pointer(unsafe.SliceData(p)), len(p), len(p))
}

// rawWritev is writev for a non-blocking descriptor; size is the bytes of
// the vector v in all.
func rawWritev(fd int, v []unix.Iovec, size int) (int, error) {
	return nonblocking(unix.SYS_WRITEV, fd, unsafe.Pointer(unsafe.SliceData(v)), len(v), size)
}

// epollWaitNow is epoll_wait with a zero timeout: the events ready now.
func epollWaitNow(epfd int, events []unix.EpollEvent) (int, error) {
	r, _, e := unix.RawSyscall6(unix.SYS_EPOLL_PWAIT, uintptr(epfd), uintptr(unsafe.Pointer(unsafe.SliceData(events))), uintptr(len(events)), 0, 0, 0)
	if e != 0 {
		return -1, e
	}
	return int(r), nil
}

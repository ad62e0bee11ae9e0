package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"sync"
	"testing"
	"time"
)

// freeAddr returns a loopback address with a port that was free a moment ago.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	return addr
}

// TestEcho runs both designs and checks that every connection gets its own
// bytes back, in order, whole, with several connections at once and
// messages larger than one read, and that connections closing midway leave
// the others served.
func TestEcho(t *testing.T) {
	for _, design := range []string{"copy", "read"} {
		t.Run(design, func(t *testing.T) {
			addr := freeAddr(t)
			p := newPool(4, 64)
			var stop func(context.Context) error
			var err error
			if design == "copy" {
				stop, err = serveCopy(addr, p)
			} else {
				stop, err = serveRead(addr, p, 2)
			}
			if err != nil {
				t.Fatal(err)
			}
			defer func() {
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				defer cancel()
				if err := stop(ctx); err != nil {
					t.Error("stop:", err)
				}
			}()

			var wg sync.WaitGroup
			errs := make(chan error, 40)
			for i := 0; i < 40; i++ {
				wg.Add(1)
				go func(i int) {
					defer wg.Done()
					errs <- echoConn(addr, i)
				}(i)
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				if err != nil {
					t.Error(err)
				}
			}
		})
	}
}

// echoConn sends messages of growing size on one connection and reads each
// back; every fifth connection hangs up after its second message.
func echoConn(addr string, i int) error {
	c, err := net.DialTimeout("tcp4", addr, 5*time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(20 * time.Second))
	for k, size := range []int{1, 64, 1024, 100 << 10, 7} {
		if i%5 == 0 && k == 2 {
			return nil
		}
		msg := bytes.Repeat([]byte{byte('a' + (i+k)%26)}, size)
		if _, err := c.Write(msg); err != nil {
			return fmt.Errorf("conn %d, message %d: write: %w", i, k, err)
		}
		got := make([]byte, size)
		if _, err := io.ReadFull(c, got); err != nil {
			return fmt.Errorf("conn %d, message %d (%d B): read: %w", i, k, size, err)
		}
		if !bytes.Equal(got, msg) {
			return fmt.Errorf("conn %d, message %d: echoed bytes differ", i, k)
		}
	}
	return nil
}

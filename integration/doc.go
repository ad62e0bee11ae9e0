// Package integration tests the wsc binary end to end, as a black box.
//
// The tests build ./cmd/wsc once, run it on a free loopback port and talk to
// its echo sample (ws://127.0.0.1:PORT/samples/echo) over real TCP:
//
//   - with third-party clients, Python websockets (testdata/client.py) and
//     Node ws (testdata/client.js): text, binary, empty, fragmented, 1 MiB and
//     UTF-8 messages, ping/pong, permessage-deflate on and off, pipelining
//     and a clean 1000 close;
//   - with a Go client (gobwas/ws) working frame by frame: the 1009 close
//     for a message over the 16 MiB limit, the echo of a message exactly at
//     the limit, frames split across TCP reads, and the graceful shutdown on
//     SIGTERM (close code 1001, exit status 0).
//
// The clients need python3-websockets and node-ws (Debian packages). When
// one is missing the test is skipped, or fails if CI=true. Everything
// listens on and connects to 127.0.0.1 only.
package integration

// Command peer holds the peer WebSocket servers that the benchmark harness
// compares the wsc container against, one binary for all of them:
//
//	peer -impl gorilla|gws|coder|gobwas|nbio -listen 127.0.0.1:PORT [-stats 127.0.0.1:PORT]
//
// Every implementation serves two paths on the -listen address, with no
// compression negotiated, any Origin accepted and a 16 MiB message limit:
//
//   - /echo sends every text or binary message back whole, with the same type,
//     in order.
//   - /broadcast sends every message received on any /broadcast connection to
//     every connection open on /broadcast, the sender included. The frame is
//     encoded once per broadcast where the library allows it. Each subscriber
//     has a bounded outbound queue; a subscriber that falls behind is closed,
//     so a slow reader can neither block the others nor grow memory without
//     bound.
//
// Each implementation follows its library's documented idiom (see the file of
// the same name). With -stats, a separate net/http server serves
// net/http/pprof under /debug/pprof/ and GET /stats, a JSON snapshot of the
// runtime taken after a forced GC.
//
// SIGINT or SIGTERM closes the listener and every connection; the process
// then exits with status 0 within 2 s. It writes one startup line and errors,
// nothing else, to stderr.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	_ "net/http/pprof" // registers /debug/pprof/ on http.DefaultServeMux for -stats
	"os"
	"os/signal"
	"runtime"
	"runtime/debug"
	"sort"
	"strings"
	"syscall"
	"time"
)

const (
	// maxMessageSize is the largest message every implementation accepts;
	// a bigger one closes the connection (with 1009 where the library does).
	maxMessageSize = 16 << 20

	// shutdownWait bounds how long a server waits, after closing every
	// connection, for its connection goroutines to return. The process must
	// be gone within 2 s of the signal.
	shutdownWait = 1500 * time.Millisecond
)

// serveFunc serves the /echo and /broadcast endpoints on ln until ctx is
// done, then closes ln and every connection and returns. It returns early
// with an error if serving fails.
type serveFunc func(ctx context.Context, ln net.Listener) error

// impls maps the -impl names to their servers.
var impls = map[string]serveFunc{
	"gorilla": serveGorilla,
	"gws":     serveGws,
	"coder":   serveCoder,
	"gobwas":  serveGobwas,
	"nbio":    serveNbio,
}

// implNames returns the -impl names, sorted.
func implNames() []string {
	names := make([]string, 0, len(impls))
	for n := range impls {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

func main() {
	log.SetFlags(0)
	log.SetPrefix("peer: ")
	impl := flag.String("impl", "", "implementation: "+strings.Join(implNames(), ", ")+" (required)")
	listen := flag.String("listen", "", "WebSocket listen address, e.g. 127.0.0.1:9001 (required)")
	stats := flag.String("stats", "", "optional address of a net/http server with /debug/pprof/ and /stats")
	flag.Parse()

	serve, ok := impls[*impl]
	if !ok || *listen == "" {
		fmt.Fprintf(os.Stderr, "peer: -impl (one of %s) and -listen are required\n", strings.Join(implNames(), ", "))
		flag.Usage()
		os.Exit(2)
	}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()

	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		log.Fatal(err)
	}
	var statsSrv *http.Server
	if *stats != "" {
		sln, err := net.Listen("tcp", *stats)
		if err != nil {
			log.Fatal(err)
		}
		statsSrv = newStatsServer()
		go func() {
			if err := statsSrv.Serve(sln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				log.Print("stats server: ", err)
			}
		}()
	}
	log.Printf("%s serving ws://%s (stats %q)", *impl, ln.Addr(), *stats)

	err = serve(ctx, ln)
	if statsSrv != nil {
		_ = statsSrv.Close()
	}
	if err != nil {
		log.Fatal(err)
	}
}

// runtimeStats is the JSON body of GET /stats.
type runtimeStats struct {
	Goroutines  int    `json:"goroutines"`
	HeapInuse   uint64 `json:"heap_inuse"`
	StackInuse  uint64 `json:"stack_inuse"`
	HeapObjects uint64 `json:"heap_objects"`
	Sys         uint64 `json:"sys"`
}

// newStatsServer returns the -stats server: net/http/pprof (registered on
// http.DefaultServeMux by its import) plus GET /stats.
func newStatsServer() *http.Server {
	mux := http.NewServeMux()
	mux.Handle("/debug/pprof/", http.DefaultServeMux)
	mux.HandleFunc("GET /stats", func(w http.ResponseWriter, _ *http.Request) {
		runtime.GC()
		debug.FreeOSMemory()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(runtimeStats{
			Goroutines:  runtime.NumGoroutine(),
			HeapInuse:   ms.HeapInuse,
			StackInuse:  ms.StackInuse,
			HeapObjects: ms.HeapObjects,
			Sys:         ms.Sys,
		})
	})
	return &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
}

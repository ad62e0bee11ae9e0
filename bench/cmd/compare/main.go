// Command compare runs the benchmark suite: the wsc container against the
// raw gnet TCP echo (the ceiling: same event loop, same syscalls) and the
// peer WebSocket servers, side by side in one invocation, and writes the
// report (Markdown, with a PNG chart).
//
//	cd bench && go run ./cmd/compare            # the quick set, under 3 minutes
//	cd bench && go run ./cmd/compare -set full  # every workload; about 35 minutes
//
// It builds the servers and the load generator into bench/bin: rawecho
// (./cmd/rawecho), handoff (./cmd/handoff: the bare worker pools), peer
// (./cmd/peer: gorilla, gws, coder, gobwas with a goroutine per
// connection, nbio), load (./cmd/load) and wsc, the real
// container binary (./cmd/wsc of the main module) serving the bundled
// samples, so every wsc figure goes through the whole container: handshake,
// frame decoder, mailbox, executor, endpoint, send path.
//
// Workloads (see ../shared/anchors/perf.md §4.3 and bench/README.md):
//
//	W1  idle memory per connection: the slope between 1k, 5k, 10k, 18k held conns
//	W2  closed-loop echo: conns × payload, msg/s and server CPU-µs per message
//	W3  pipelined echo: 16 messages in flight per connection
//	W4  broadcast fan-out: deliveries/s at stepped publish rates; W4b 1% slow subscribers
//	W5  open-loop latency: p50/p99/p999 at 50/80/95% of raw gnet's maximum rate
//	W6  handshake storm (upgrades/s) and slowloris (handshake timeout, others served)
//	W7  large messages: 1 MiB and 16 MiB, whole and fragmented; 16 MiB + 1 gets 1009
//
// Throughput figures are ratios against the raw gnet echo and the peers
// measured in the same run, over interleaved rounds (the server order flips
// every round), medians reported. Server CPU comes from /proc/PID/stat,
// read when the first load process marks the start and the end of its
// window. Before each run compare waits for the machine to be quiet, and a
// run disturbed by other processes or steal is run again (-redo). Any dial,
// handshake, echo or verify error, or a server that crashes or does not
// stop cleanly on SIGTERM, fails the run: exit status 1.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// quickSlack is the quick set's slack (see harness.slack).
const quickSlack = 30 * time.Second

// harness holds what every workload needs.
type harness struct {
	full     bool
	rounds   int
	duration time.Duration
	warmup   time.Duration
	quiet    time.Duration
	redo     int
	// slack bounds the time spent waiting for quiet (beyond each check's
	// second) and redoing disturbed runs, so that the quick set keeps to
	// its 3 minutes on a busy machine; 0: no bound (full set).
	slack, slackUsed time.Duration
	verbose          bool
	only             map[string]bool // workloads to run; nil: all of the set
	servers          map[string]bool // servers to run; nil: all

	benchDir, wscDir, binDir, logDir string
	loadBin                          string
	all                              map[string]*server
	order                            []string // all server names, table order

	rep *report
}

func main() {
	h := &harness{}
	var set, out, chart, only, servers string
	flag.StringVar(&set, "set", "quick", "quick (under 3 minutes) or full (every workload)")
	flag.IntVar(&h.rounds, "rounds", 3, "interleaved rounds of each throughput case")
	flag.DurationVar(&h.duration, "duration", 0, "measured window per run (default: 3s quick, 4s full)")
	flag.DurationVar(&h.warmup, "warmup", time.Second, "traffic before the measured window")
	flag.DurationVar(&h.quiet, "quiet-wait", 30*time.Second, "before each run, wait up to this long for the machine to be quiet (others using < 0.15 core over 1 s); 0: don't wait")
	flag.IntVar(&h.redo, "redo", 1, "run a disturbed run again, up to this many times, keeping the least disturbed attempt")
	flag.StringVar(&only, "w", "", "comma-separated workloads to run (W1,…,W7); default: all of the set")
	flag.StringVar(&servers, "servers", "", "comma-separated servers to run (raw,raw-again,wsc,wsc-inline,gorilla,gws,coder,gobwas,nbio,pool-copy,pool-read); default: all")
	flag.StringVar(&h.wscDir, "wsc-dir", "", "directory of the wsc module to build ./cmd/wsc in (default: bench/go.mod's replace target, ../)")
	flag.StringVar(&out, "out", "", "write the Markdown report to this file too (e.g. RESULTS.md)")
	flag.StringVar(&chart, "chart", "", "write the chart to this PNG file (default: results-chart.png next to -out, if -out is set)")
	flag.BoolVar(&h.verbose, "v", false, "print every load command")
	flag.Parse()
	switch set {
	case "quick":
		h.slack = quickSlack
	case "full":
		h.full = true
	default:
		fmt.Fprintln(os.Stderr, "compare: -set must be quick or full")
		os.Exit(2)
	}
	if h.duration == 0 {
		h.duration = 3 * time.Second
		if h.full {
			h.duration = 4 * time.Second
		}
	}
	if only != "" {
		h.only = map[string]bool{}
		for _, w := range strings.Split(only, ",") {
			h.only[strings.ToUpper(strings.TrimSpace(w))] = true
		}
	}
	if servers != "" {
		h.servers = map[string]bool{}
		for _, s := range strings.Split(servers, ",") {
			h.servers[strings.TrimSpace(s)] = true
		}
	}
	if out != "" && chart == "" {
		chart = filepath.Join(filepath.Dir(out), "results-chart.png")
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	start := time.Now()
	err := h.run(ctx, set)
	if h.rep != nil {
		h.rep.elapsed = time.Since(start)
		if err != nil {
			h.rep.failure = err.Error()
		}
		if werr := h.rep.write(os.Stdout, out, chart); werr != nil {
			err = errors.Join(err, werr)
		}
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "compare: FAILED:", err)
		os.Exit(1)
	}
	fmt.Fprintf(os.Stderr, "compare: done in %v\n", time.Since(start).Round(time.Second))
}

func (h *harness) run(ctx context.Context, set string) error {
	if h.rounds < 1 {
		return errors.New("-rounds must be positive")
	}
	if v, err := exec.Command("getconf", "CLK_TCK").Output(); err == nil {
		if n, err := strconv.ParseFloat(strings.TrimSpace(string(v)), 64); err == nil && n > 0 {
			clkTck = n
		}
	}
	benchDir, err := goList("", "-m", "-f", "{{.Path}} {{.Dir}}")
	if err != nil {
		return err
	}
	mod, dir, _ := strings.Cut(benchDir, " ")
	if mod != "github.com/wsc-dev/wsc/bench" {
		return fmt.Errorf("run compare from the bench module (cd bench), not from %s", mod)
	}
	h.benchDir = dir
	if h.wscDir == "" {
		if h.wscDir, err = goList(h.benchDir, "-m", "-f", "{{.Dir}}", "github.com/wsc-dev/wsc"); err != nil {
			return err
		}
	}
	if h.wscDir, err = filepath.Abs(h.wscDir); err != nil {
		return err
	}
	h.binDir = filepath.Join(h.benchDir, "bin")
	h.logDir = filepath.Join(h.binDir, "logs")
	if err := os.MkdirAll(h.logDir, 0o755); err != nil {
		return err
	}
	if err := h.build(ctx); err != nil {
		return err
	}
	h.defineServers()
	h.rep = newReport(h, set)

	type workload struct {
		name string
		run  func(context.Context) error
	}
	ws := []workload{
		{"W2", h.w2}, {"W1", h.w1}, {"W3", h.w3}, {"W4", h.w4}, {"W5", h.w5}, {"W6", h.w6}, {"W7", h.w7},
	}
	// A workload that fails is reported and the others still run; the
	// run as a whole then fails.
	var errs []error
	for _, w := range ws {
		if h.only != nil && !h.only[w.name] {
			continue
		}
		if ctx.Err() != nil {
			return errors.Join(append(errs, ctx.Err())...)
		}
		fmt.Fprintf(os.Stderr, "== %s\n", w.name)
		t0 := time.Now()
		if err := w.run(ctx); err != nil {
			err = fmt.Errorf("%s: %w", w.name, err)
			fmt.Fprintln(os.Stderr, "compare:", err)
			h.rep.section(w.name+": FAILED", "```\n"+err.Error()+"\n```")
			errs = append(errs, err)
			continue
		}
		fmt.Fprintf(os.Stderr, "== %s done in %v\n", w.name, time.Since(t0).Round(time.Second))
	}
	return errors.Join(errs...)
}

// build builds every binary into bench/bin.
func (h *harness) build(ctx context.Context) error {
	fmt.Fprintln(os.Stderr, "building into", h.binDir)
	builds := []struct{ dir, out, pkg string }{
		{h.benchDir, "rawecho", "./cmd/rawecho"},
		{h.benchDir, "handoff", "./cmd/handoff"},
		{h.benchDir, "peer", "./cmd/peer"},
		{h.benchDir, "load", "./cmd/load"},
		{h.wscDir, "wsc", "./cmd/wsc"},
	}
	for _, b := range builds {
		out := filepath.Join(h.binDir, b.out)
		cmd := exec.CommandContext(ctx, "go", "build", "-o", out, b.pkg)
		cmd.Dir = b.dir
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("go build %s in %s: %w", b.pkg, b.dir, err)
		}
	}
	h.loadBin = filepath.Join(h.binDir, "load")
	return nil
}

// defineServers lists the servers under test.
func (h *harness) defineServers() {
	peer := func(name, label string) *server {
		return &server{name: name, label: label, bin: filepath.Join(h.binDir, "peer"), mode: "ws",
			echo: "/echo", bcast: "/broadcast", stats: true,
			args: func(addr, stats string) []string {
				return []string{"-impl", name, "-listen", addr, "-stats", stats}
			}}
	}
	list := []*server{
		{name: "raw", label: "raw gnet TCP echo", bin: filepath.Join(h.binDir, "rawecho"), mode: "tcp",
			args: func(addr, _ string) []string { return []string{"-listen", addr} }},
		// The raw gnet echo once more in the same rounds (an A/A test):
		// its ratio to raw is what the machine alone does to a ratio, the
		// yardstick for how far a target's ratio may be from its line.
		{name: "raw-again", label: "raw gnet TCP echo, run again (A/A)", bin: filepath.Join(h.binDir, "rawecho"), mode: "tcp",
			args: func(addr, _ string) []string { return []string{"-listen", addr} }},
		// A bare worker pool on a TCP echo, in the two designs of
		// ./cmd/handoff: what the hand-off alone costs, without WebSocket.
		{name: "pool-copy", label: "bare pool: gnet reads, a worker writes (TCP)", bin: filepath.Join(h.binDir, "handoff"), mode: "tcp",
			args: func(addr, _ string) []string { return []string{"-listen", addr, "-design", "copy"} }},
		{name: "pool-read", label: "bare pool: the worker reads its socket (TCP)", bin: filepath.Join(h.binDir, "handoff"), mode: "tcp",
			args: func(addr, _ string) []string { return []string{"-listen", addr, "-design", "read"} }},
		{name: "wsc", label: "wsc (container)", bin: filepath.Join(h.binDir, "wsc"), mode: "ws",
			echo: "/samples/echo", bcast: "/samples/broadcast", stats: true,
			args: func(addr, stats string) []string { return []string{"-listen", addr, "-admin", stats} }},
		{name: "wsc-inline", label: "wsc, inline endpoint", bin: filepath.Join(h.binDir, "wsc"), mode: "ws",
			echo: "/samples/echo-inline", stats: true,
			args: func(addr, stats string) []string { return []string{"-listen", addr, "-admin", stats} }},
		peer("gorilla", "gorilla/websocket"),
		peer("gws", "lxzan/gws"),
		peer("coder", "coder/websocket"),
		peer("gobwas", "gobwas/ws, goroutine/conn"),
		peer("nbio", "lesismal/nbio"),
	}
	h.all = map[string]*server{}
	for _, s := range list {
		h.all[s.name] = s
		h.order = append(h.order, s.name)
	}
}

// pick returns the servers among names that -servers allows, in order.
func (h *harness) pick(names ...string) []*server {
	var out []*server
	for _, n := range names {
		if h.servers == nil || h.servers[n] {
			out = append(out, h.all[n])
		}
	}
	return out
}

// wsServers are the WebSocket servers (all but raw).
var wsServers = []string{"wsc", "gorilla", "gws", "coder", "gobwas", "nbio"}

// interleave runs fn for every server over rounds rounds, flipping the
// order every round. An error of wsc or raw fails the case; a peer that
// fails is left out of the later rounds, and its error is returned in
// peerErrs for the table.
func (h *harness) interleave(ctx context.Context, list []*server, rounds int, fn func(ctx context.Context, s *server, round int) error) (peerErrs map[string]error, err error) {
	peerErrs = map[string]error{}
	for r := 1; r <= rounds; r++ {
		order := slices.Clone(list)
		if r%2 == 0 {
			slices.Reverse(order)
		}
		for _, s := range order {
			if ctx.Err() != nil {
				return peerErrs, ctx.Err()
			}
			if peerErrs[s.name] != nil {
				continue
			}
			if err := fn(ctx, s, r); err != nil {
				err = fmt.Errorf("round %d, %s: %w", r, s.name, err)
				if !isOurs(s) {
					fmt.Fprintln(os.Stderr, "  peer failed:", err)
					peerErrs[s.name] = err
					continue
				}
				return peerErrs, err
			}
		}
	}
	return peerErrs, nil
}

// isOurs reports whether s is wsc or one of our baselines (the raw gnet
// echo, the bare pools), whose errors fail the run; a peer's are reported
// in its row.
func isOurs(s *server) bool {
	return strings.HasPrefix(s.name, "raw") || strings.HasPrefix(s.name, "wsc") || strings.HasPrefix(s.name, "pool-")
}

// split spreads n connections over load processes of at most per each,
// every process with source addresses of its own (127.0.0.x), and returns
// the argument lists; mk gives the arguments for a process of c conns.
func split(n, per int, mk func(i, c int) []string) [][]string {
	procs := (n + per - 1) / per
	var out [][]string
	for i := 0; i < procs; i++ {
		c := n / procs
		if i < n%procs {
			c++
		}
		args := mk(i, c)
		args = append(args, "-src", srcIPs(i))
		out = append(out, args)
	}
	return out
}

// srcIPs returns the source addresses of load process i: four of its own,
// so that no process runs out of ephemeral ports.
func srcIPs(i int) string {
	var ips []string
	for k := 0; k < 4; k++ {
		ips = append(ips, fmt.Sprintf("127.0.%d.%d", 1+i, 2+k))
	}
	return strings.Join(ips, ",")
}

func goList(dir string, args ...string) (string, error) {
	cmd := exec.Command("go", append([]string{"list"}, args...)...)
	cmd.Dir = dir
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("go list %s: %w", strings.Join(args, " "), err)
	}
	return strings.TrimSpace(string(out)), nil
}

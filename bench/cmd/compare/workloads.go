package main

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// perProc is how many connections one load process holds: a process may
// hold about 19,000 sockets here, and a goroutine-per-connection client
// slows down well before that.
const perProc = 5000

func itoa(n int) string { return strconv.Itoa(n) }

// echoArgs returns the load processes for an echo run against srv.
func (h *harness) echoArgs(srv *running, conns, size int, extra ...string) [][]string {
	path := srv.s.echo
	if path == "" {
		path = "/"
	}
	return split(conns, perProc, func(i, c int) []string {
		a := []string{"-workload", "echo", "-mode", srv.s.mode, "-addr", srv.addr, "-path", path,
			"-conns", itoa(c), "-size", itoa(size), "-duration", h.duration.String(), "-warmup", h.warmup.String()}
		return append(a, extra...)
	})
}

// once starts s, runs fn against it and stops it; a server that does not
// stop cleanly fails the run.
func (h *harness) once(ctx context.Context, s *server, tag string, fn func(srv *running) error) error {
	srv, err := h.start(ctx, s, tag)
	if err != nil {
		return err
	}
	if err := fn(srv); err != nil {
		srv.kill()
		return err
	}
	if err := srv.stop(); err != nil {
		return err
	}
	for _, l := range logIssues(srv.logPath) {
		fmt.Fprintf(os.Stderr, "    server log: %s\n", l)
	}
	return nil
}

func logSample(s *server, what string, smp sample) {
	fmt.Fprintf(os.Stderr, "  %-8s %-22s %9.0f msg/s %8.2f CPU-µs/msg  server %.2f load %.2f other %.2f cores  p50 %.2f p99 %.2f ms\n",
		s.name, what, smp.res.MsgPerS, smp.cpuUsPer(float64(smp.res.Messages)), smp.serverCPU/smp.wall, smp.clientCPU/smp.wall,
		smp.other(), smp.res.P50us/1e3, smp.res.P99us/1e3)
}

// echoCase is one W2/W3 configuration.
type echoCase struct {
	conns, size, inflight int
	servers               []string
	// rounds overrides -rounds when larger: the cases the targets are
	// judged on get more, so one disturbed round moves their medians less.
	rounds int
}

func (c echoCase) key() string {
	k := fmt.Sprintf("%d conns × %s", c.conns, sizeLabel(c.size))
	if c.inflight > 1 {
		k += fmt.Sprintf(", %d in flight", c.inflight)
	}
	return k
}

func sizeLabel(n int) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d B", n)
}

// echoCases runs closed-loop echo cases and reports them.
func (h *harness) echoCases(ctx context.Context, title, intro string, cases []echoCase) error {
	sec := h.rep.section(title, intro)
	sec.header("case", "server", "runs", "msg/s median (min–max)", "× raw", "server CPU-µs/msg median (min–max)", "CPU/msg × raw", "of which user-space µs/msg (× raw)", "p50 / p99 ms", "server / load cores")
	for _, c := range cases {
		list := h.pick(c.servers...)
		res := map[string][]sample{}
		peerErrs, err := h.interleave(ctx, list, max(h.rounds, c.rounds), func(ctx context.Context, s *server, round int) error {
			return h.once(ctx, s, fmt.Sprintf("echo-%d-%d-%d-r%d", c.conns, c.size, c.inflight, round), func(srv *running) error {
				var extra []string
				if c.inflight > 1 {
					extra = []string{"-inflight", itoa(c.inflight)}
				}
				smp, err := h.measure(ctx, srv, h.echoArgs(srv, c.conns, c.size, extra...), h.warmup+h.duration)
				if err != nil {
					return err
				}
				smp.round = round
				res[s.name] = append(res[s.name], smp)
				logSample(s, c.key(), smp)
				return nil
			})
		})
		if err != nil {
			return err
		}
		med := map[string][2]float64{}
		usrMed := map[string]float64{}
		byRound := map[string]map[int]roundFigs{}
		for _, s := range list {
			if len(res[s.name]) == 0 {
				continue
			}
			var mps, cpu, usr []float64
			byRound[s.name] = map[int]roundFigs{}
			for _, r := range res[s.name] {
				v := roundFigs{r.res.MsgPerS, r.cpuUsPer(float64(r.res.Messages)), r.clientUsPer(float64(r.res.Messages))}
				mps, cpu = append(mps, v[0]), append(cpu, v[1])
				usr = append(usr, r.userUsPer(float64(r.res.Messages)))
				byRound[s.name][r.round] = v
			}
			med[s.name] = [2]float64{median(mps), median(cpu)}
			usrMed[s.name] = median(usr)
		}
		h.rep.echo[c.key()] = med
		h.rep.echoRounds[c.key()] = byRound
		for _, s := range list {
			rs := res[s.name]
			if perr := peerErrs[s.name]; perr != nil || len(rs) == 0 {
				sec.row(c.key(), s.label, itoa(len(rs)), "failed: "+shorten(fmt.Sprint(perr)), "", "", "", "", "", "")
				continue
			}
			var mps, cpu, p50, p99, sc, lc []float64
			for _, r := range rs {
				mps = append(mps, r.res.MsgPerS)
				cpu = append(cpu, r.cpuUsPer(float64(r.res.Messages)))
				p50 = append(p50, r.res.P50us/1e3)
				p99 = append(p99, r.res.P99us/1e3)
				sc = append(sc, r.serverCPU/r.wall)
				lc = append(lc, r.clientCPU/r.wall)
			}
			xr, xc, xu := "–", "–", ""
			if raw, ok := med["raw"]; ok && s.name != "raw" {
				xr = fmt.Sprintf("%.2f", med[s.name][0]/raw[0])
				xc = fmt.Sprintf("%.2f", med[s.name][1]/raw[1])
				xu = fmt.Sprintf(" (%.2f)", usrMed[s.name]/usrMed["raw"])
				if isOurs(s) {
					// The per-round ratios pair runs made back to back.
					rr := roundRatios(byRound[s.name], byRound["raw"], 0)
					rc := roundRatios(byRound[s.name], byRound["raw"], 1)
					if len(rr) > 1 {
						xr += fmt.Sprintf(" (%.2f–%.2f)", slices.Min(rr), slices.Max(rr))
						xc += fmt.Sprintf(" (%.2f–%.2f)", slices.Min(rc), slices.Max(rc))
					}
				}
			}
			sec.row(c.key(), s.label, itoa(len(rs)),
				fmt.Sprintf("%.0f (%.0f–%.0f)", median(mps), slices.Min(mps), slices.Max(mps)), xr,
				fmt.Sprintf("%.2f (%.2f–%.2f)", median(cpu), slices.Min(cpu), slices.Max(cpu)), xc,
				fmt.Sprintf("%.2f%s", usrMed[s.name], xu),
				fmt.Sprintf("%.1f / %.1f", median(p50), median(p99)),
				fmt.Sprintf("%.2f / %.2f", median(sc), median(lc)))
		}
	}
	return nil
}

// w2 is closed-loop echo throughput.
func (h *harness) w2(ctx context.Context) error {
	var cases []echoCase
	if !h.full {
		cases = []echoCase{{conns: 1000, size: 1024, servers: []string{"raw", "wsc", "wsc-inline", "gorilla", "gws"}}}
	} else {
		all := append([]string{"raw", "wsc-inline"}, wsServers...)
		for _, conns := range []int{100, 1000, 10000} {
			for _, size := range []int{64, 1024, 8192} {
				c := echoCase{conns: conns, size: size, servers: []string{"raw", "wsc", "wsc-inline"}}
				if conns == 1000 || (conns == 10000 && size == 1024) {
					c.servers = all
				}
				if conns == 1000 && size <= 1024 {
					c.rounds = targetRounds
					// The cases the default path is judged on also measure
					// what a bare hand-off reaches, in both designs.
					c.servers = append(slices.Clone(c.servers), "pool-copy", "pool-read")
					// And the raw echo again, between wsc and the peers in
					// each round's order, for the A/A row of the targets.
					c.servers = slices.Insert(c.servers, slices.Index(c.servers, "wsc")+1, "raw-again")
				}
				cases = append(cases, c)
			}
		}
	}
	return h.echoCases(ctx, "W2: closed-loop echo",
		"Every connection has one message in flight: it sends a masked binary frame and waits for the echo "+
			"before the next. The raw gnet TCP echo does the same with bare bytes: it is the ceiling for a server "+
			"on gnet (same loop, same syscalls). The load generator shares the 2 cores, so msg/s is partly "+
			"client-bound; server CPU-µs per message is the main figure. \"× raw\" columns are ratios of the medians "+
			"to the raw echo's; for wsc the range of the per-round ratios follows in brackets. \"wsc\" is the default "+
			"path (/samples/echo: decoder → mailbox → executor → endpoint → send path); \"wsc, inline endpoint\" is "+
			"the same echo with ServerConfig.Inline (/samples/echo-inline): its callbacks run on the event loop. "+
			"The user-space part of the server's CPU (its code and the Go runtime) is what a server controls: the "+
			"rest is the kernel's socket work, about the same for every server. At 1k connections × 64 B and 1 KiB, "+
			"two bare worker pools (bench/cmd/handoff, TCP echo, no WebSocket) show what handing the work to a "+
			"pool costs by itself: \"gnet reads, a worker writes\" is the container's default-path design (the bytes "+
			"cross from the loop's core to the worker's); \"the worker reads its socket\" has an epoll poller that only "+
			"queues the readable connection, as Tomcat's and Jetty's connectors do.", cases)
}

// w3 is pipelined echo.
func (h *harness) w3(ctx context.Context) error {
	if !h.full {
		return nil
	}
	var cases []echoCase
	for _, size := range []int{64, 1024} {
		cases = append(cases, echoCase{conns: 1000, size: size, inflight: 16, servers: []string{"raw", "wsc", "wsc-inline", "gorilla", "gws", "nbio"}})
	}
	return h.echoCases(ctx, "W3: pipelined echo",
		"16 messages in flight per connection: the server gets several frames per read and can answer them "+
			"with fewer syscalls.", cases)
}

// w1 is idle memory per connection.
func (h *harness) w1(ctx context.Context) error {
	steps := []int{1000, 5000}
	servers := []string{"wsc", "gobwas"}
	if h.full {
		steps = []int{1000, 5000, 10000, 18000}
		servers = wsServers
	}
	sec := h.rep.section("W1: idle memory per connection",
		fmt.Sprintf("Upgraded WebSocket connections held idle at %s connections (18,000 is about the most one "+
			"process may hold here). After each step the server runs a GC (pprof heap?gc=1) and its heap and "+
			"stacks in use (runtime.MemStats HeapInuse + StackInuse) and RSS are read. The figures are least-squares "+
			"slopes over the steps: bytes per added connection, user space only. The kernel's socket memory "+
			"(about 4.9 KB per socket here) comes on top for every server.", joinInts(steps)))
	sec.header("server", "heap+stack B/conn", "RSS B/conn", "goroutines/conn", "× wsc (heap+stack)", "heap+stack MB at each step")
	slopes := map[string][3]float64{}
	for _, s := range h.pick(servers...) {
		var xs, user, rss, gor []float64
		err := h.once(ctx, s, "idle", func(srv *running) error {
			var groups []*group
			defer func() {
				for _, g := range groups {
					g.send("stop")
					_, _ = g.wait(60 * time.Second)
				}
			}()
			held := 0
			for _, n := range steps {
				g, err := h.startGroup(ctx, split(n-held, 6000, func(i, c int) []string {
					return []string{"-workload", "idle", "-addr", srv.addr, "-path", srv.s.echo, "-conns", itoa(c)}
				}), nil)
				if err != nil {
					return err
				}
				groups = append(groups, g)
				if err := g.waitReady(ctx, 120*time.Second); err != nil {
					return errors.Join(err, srv.alive())
				}
				g.send("go") // the hold begins; "stop" ends it
				held = n
				time.Sleep(time.Second)
				m, err := srv.mem()
				if err != nil {
					return err
				}
				xs = append(xs, float64(n))
				user = append(user, m.user())
				rss = append(rss, m.rss)
				gor = append(gor, m.goroutines)
				fmt.Fprintf(os.Stderr, "  %-8s %6d conns: heap %.1f MB stack %.1f MB rss %.1f MB goroutines %.0f\n",
					s.name, n, m.heapInuse/1e6, m.stackInuse/1e6, m.rss/1e6, m.goroutines)
			}
			for _, g := range groups {
				g.send("stop")
			}
			for _, g := range groups {
				if _, err := g.wait(60 * time.Second); err != nil {
					groups = nil
					return err
				}
			}
			groups = nil
			return srv.alive()
		})
		if err != nil {
			if err := sec.failed(s, err, s.label); err != nil {
				return err
			}
			continue
		}
		slopes[s.name] = [3]float64{slope(xs, user), slope(xs, rss), slope(xs, gor)}
		var at []string
		for _, u := range user {
			at = append(at, fmt.Sprintf("%.1f", u/1e6))
		}
		sec.pending = append(sec.pending, []string{s.label, "", "", "", "", strings.Join(at, " → "), s.name})
	}
	h.rep.idle = slopes
	for _, row := range sec.pending {
		sl := slopes[row[6]]
		x := "–"
		if w, ok := slopes["wsc"]; ok && row[6] != "wsc" {
			x = fmt.Sprintf("%.1f", sl[0]/w[0])
		}
		sec.row(row[0], fmt.Sprintf("%.0f", sl[0]), fmt.Sprintf("%.0f", sl[1]), fmt.Sprintf("%.2f", sl[2]), x, row[5])
	}
	sec.pending = nil
	return nil
}

func joinInts(xs []int) string {
	var s []string
	for _, x := range xs {
		s = append(s, strconv.Itoa(x))
	}
	return strings.Join(s, ", ")
}

// slope is the least-squares slope of ys over xs.
func slope(xs, ys []float64) float64 {
	n := float64(len(xs))
	if n < 2 {
		return math.NaN()
	}
	var sx, sy, sxx, sxy float64
	for i := range xs {
		sx += xs[i]
		sy += ys[i]
		sxx += xs[i] * xs[i]
		sxy += xs[i] * ys[i]
	}
	return (n*sxy - sx*sy) / (n*sxx - sx*sx)
}

// sustainedP99 is the broadcast latency (p99) under which W4 counts a step
// to subs subscribers as sustained rather than overloaded: 100 ms, plus
// 20 µs per subscriber, because the load generator alone takes about
// 10–15 µs of its core per delivery, so one broadcast to 10,000
// subscribers reaches the last of them 100 ms or more after the first
// for every server.
func sustainedP99(subs int) time.Duration {
	return 100*time.Millisecond + time.Duration(subs)*20*time.Microsecond
}

// sustainedRule says sustainedP99 in words, for the report.
const sustainedRule = "100 ms + 20 µs per subscriber"

// w4 is broadcast fan-out, and W4b slow subscribers.
func (h *harness) w4(ctx context.Context) error {
	type bcase struct {
		subs    int
		targets []float64 // deliveries/s steps
	}
	cases := []bcase{{1000, []float64{50000, 100000}}}
	servers := []string{"wsc"}
	if h.full {
		cases = []bcase{{1000, []float64{50000, 100000, 200000, 400000, 800000, 1600000}}, {10000, []float64{50000, 100000, 200000, 400000, 800000}}}
		servers = wsServers
	}
	const size = 1024
	sec := h.rep.section("W4: broadcast fan-out",
		"One publisher sends 1 KiB binary messages at a scheduled rate to the broadcast endpoint; every "+
			"subscriber (the publisher too) gets each one. The rate is stepped up until the deliveries fall "+
			"below 90% of the target or a subscriber misses a message. The table gives the step with the most "+
			"deliveries/s (often an overload, with latency in seconds), the highest step that kept up (≥ 90% of its target) with a p99 "+
			"of at most "+sustainedRule+" (receiving one broadcast takes the load generator about 10–15 µs per subscriber), and what stopped the stepping. Latency is publish → receive, against the publisher's scheduled send time. wsc's endpoint "+
			"(/samples/broadcast) calls endpoint.Broadcast, which encodes the frame once per message.")
	sec.header("subscribers", "server", "most deliveries/s (target)", "server CPU-µs/delivery", "p50 / p99 ms", "server / load cores",
		"at p99 ≤ "+sustainedRule+": deliveries/s (target), p50 / p99 ms", "stopped at")
	for _, c := range cases {
		for _, s := range h.pick(servers...) {
			var best, sus sample
			var bestTarget, susTarget float64
			next := "–"
			err := h.once(ctx, s, fmt.Sprintf("bcast-%d", c.subs), func(srv *running) error {
				for i, target := range c.targets {
					rate := target / float64(c.subs+1)
					args := split(c.subs, perProc, func(p, n int) []string {
						a := []string{"-workload", "broadcast", "-addr", srv.addr, "-path", srv.s.bcast, "-conns", itoa(n),
							"-size", itoa(size), "-duration", h.duration.String(), "-warmup", h.warmup.String()}
						if p == 0 {
							a = append(a, "-publish-rate", strconv.FormatFloat(rate, 'f', 2, 64))
						}
						return a
					})
					smp, err := h.measure(ctx, srv, args, h.warmup+h.duration)
					if err != nil {
						if i == 0 {
							return err
						}
						if aerr := srv.alive(); aerr != nil {
							return aerr
						}
						next = fmt.Sprintf("%.0fk: %s", target/1000, shorten(err.Error()))
						return nil
					}
					fmt.Fprintf(os.Stderr, "  %-8s %5d subs target %6.0f: %8.0f deliveries/s  %.2f CPU-µs/delivery  p50 %.2f p99 %.2f ms\n",
						s.name, c.subs, target, smp.res.DeliveriesPerS, smp.cpuUsPer(float64(smp.res.Deliveries)), smp.res.P50us/1e3, smp.res.P99us/1e3)
					// The most deliveries/s without an error is the figure,
					// even from a step that fell short of its target.
					if i == 0 || smp.res.DeliveriesPerS > best.res.DeliveriesPerS {
						best, bestTarget = smp, target
					}
					if smp.res.DeliveriesPerS < 0.9*target {
						next = fmt.Sprintf("%.0fk: %.0f/s", target/1000, smp.res.DeliveriesPerS)
						return nil
					}
					if smp.res.P99us <= float64(sustainedP99(c.subs).Microseconds()) {
						sus, susTarget = smp, target
					}
				}
				return nil
			})
			if err != nil {
				if err := sec.failed(s, err, itoa(c.subs), s.label); err != nil {
					return err
				}
				continue
			}
			key := fmt.Sprint(c.subs) + "/" + s.name
			h.rep.bcast[key] = best.res.DeliveriesPerS
			sustained := "none"
			if susTarget > 0 {
				h.rep.bcastSustained[key] = sus.res.DeliveriesPerS
				sustained = fmt.Sprintf("%.0f (%.0fk), %.1f / %.1f", sus.res.DeliveriesPerS, susTarget/1000, sus.res.P50us/1e3, sus.res.P99us/1e3)
			}
			sec.row(itoa(c.subs), s.label, fmt.Sprintf("%.0f (%.0fk)", best.res.DeliveriesPerS, bestTarget/1000),
				fmt.Sprintf("%.2f", best.cpuUsPer(float64(best.res.Deliveries))),
				fmt.Sprintf("%.1f / %.1f", best.res.P50us/1e3, best.res.P99us/1e3),
				fmt.Sprintf("%.2f / %.2f", best.serverCPU/best.wall, best.clientCPU/best.wall), sustained, next)
		}
	}
	return h.w4b(ctx)
}

// w4b: 1% of the subscribers never read. Server memory must plateau and
// the slow ones be closed.
func (h *harness) w4b(ctx context.Context) error {
	// A subscriber that does not read is closed once its socket buffers
	// and its send limit (1 MiB) are full: the messages are big enough
	// for that to take seconds, not minutes.
	subs, slow, size, rate, dur := 100, 1, 16<<10, 100.0, 10*time.Second
	if h.full {
		subs, slow, size, rate, dur = 1000, 10, 4<<10, 50.0, 60*time.Second
	}
	sec := h.rep.section("W4b: slow subscribers",
		fmt.Sprintf("%d subscribers, %d of which never read after the handshake; the publisher sends %.0f × %s "+
			"messages/s for %v. Every second the server runs a GC and its heap and stacks in use are read (as in W1): "+
			"they must plateau (the highest sample of the second half at most 10%% + 4 MB above the first half's), and "+
			"every slow subscriber must be closed by the server while the others get every message. RSS is shown too; "+
			"it is not judged, because the Go runtime returns freed memory to the OS only slowly.", subs, slow, rate, sizeLabel(size), dur))
	sec.header("server", "deliveries/s", "slow closed", "heap+stack first half max MB", "heap+stack second half max MB", "RSS first / second half max MB", "verdict")
	for _, s := range h.pick("wsc") {
		err := h.once(ctx, s, "slow", func(srv *running) error {
			args := split(subs, perProc, func(p, n int) []string {
				return []string{"-workload", "broadcast", "-addr", srv.addr, "-path", srv.s.bcast, "-conns", itoa(n),
					"-size", itoa(size), "-duration", dur.String(), "-warmup", h.warmup.String(),
					"-publish-rate", strconv.FormatFloat(rate, 'f', 2, 64), "-slow", itoa(slow)}
			})
			var rss, user []float64
			var mu sync.Mutex
			stop := make(chan struct{})
			var wg sync.WaitGroup
			wg.Add(1)
			go func() {
				defer wg.Done()
				t := time.NewTicker(time.Second)
				defer t.Stop()
				for {
					select {
					case <-stop:
						return
					case <-t.C:
						if m, err := srv.mem(); err == nil {
							mu.Lock()
							rss = append(rss, m.rss)
							user = append(user, m.user())
							mu.Unlock()
						}
					}
				}
			}()
			smp, err := h.measure(ctx, srv, args, h.warmup+dur)
			close(stop)
			wg.Wait()
			if err != nil {
				return err
			}
			if len(user) < 4 {
				return errors.New("too few memory samples")
			}
			half := len(user) / 2
			first, second := slices.Max(user[:half]), slices.Max(user[half:])
			rss1, rss2 := slices.Max(rss[:half]), slices.Max(rss[half:])
			ok := second <= first*1.10+4e6 && smp.res.SlowClosed == slow
			verdict := "pass"
			if !ok {
				verdict = "FAIL"
			}
			h.rep.slowOK = ok
			sec.row(s.label, fmt.Sprintf("%.0f", smp.res.DeliveriesPerS), fmt.Sprintf("%d of %d", smp.res.SlowClosed, slow),
				fmt.Sprintf("%.1f", first/1e6), fmt.Sprintf("%.1f", second/1e6), fmt.Sprintf("%.1f / %.1f", rss1/1e6, rss2/1e6), verdict)
			fmt.Fprintf(os.Stderr, "  %-8s slow subscribers: %s (closed %d/%d, heap+stack %.1f → %.1f MB, RSS %.1f → %.1f MB)\n",
				s.name, verdict, smp.res.SlowClosed, slow, first/1e6, second/1e6, rss1/1e6, rss2/1e6)
			return nil
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// failed deals with a case that failed on server s: an error of ours (wsc
// or raw) fails the run and is returned; a peer's is reported in its row
// (the lead columns, then the error, the rest empty) and nil is returned.
func (sec *section) failed(s *server, err error, lead ...string) error {
	if isOurs(s) {
		return err
	}
	fmt.Fprintln(os.Stderr, "  peer failed:", err)
	row := append(lead, "failed: "+shorten(err.Error()))
	if len(sec.rows) > 0 {
		for len(row) < len(sec.rows[0]) {
			row = append(row, "")
		}
	}
	sec.row(row...)
	return nil
}

func shorten(s string) string {
	s = strings.ReplaceAll(s, "\n", " ")
	s = strings.ReplaceAll(s, "|", "/")
	if len(s) > 80 {
		s = s[:80] + "…"
	}
	return s
}

// w5 is latency under open-loop load at fractions of raw gnet's maximum.
func (h *harness) w5(ctx context.Context) error {
	if !h.full {
		return nil
	}
	const conns, size = 1000, 1024
	list := h.pick("raw", "wsc", "wsc-inline", "gws")
	ref := math.NaN()
	if m, ok := h.rep.echo[echoCase{conns: conns, size: size}.key()]["raw"]; ok {
		ref = m[0]
	}
	if math.IsNaN(ref) {
		// No W2 figure in this run: measure raw's maximum now.
		err := h.once(ctx, h.all["raw"], "w5-max", func(srv *running) error {
			smp, err := h.measure(ctx, srv, h.echoArgs(srv, conns, size), h.warmup+h.duration)
			ref = smp.res.MsgPerS
			return err
		})
		if err != nil {
			return err
		}
	}
	sec := h.rep.section("W5: latency under open-loop load",
		fmt.Sprintf("1000 connections, 1 KiB, each sending on its own schedule (open loop) at 50, 80 and 95%% of raw gnet's "+
			"closed-loop maximum in this run (%.0f msg/s). Latency counts from the scheduled send time, so a stall "+
			"is not hidden by the client waiting (no coordinated omission). \"send lag p99\" is how late the load "+
			"generator itself sent: that part of the latency is the client's (it shares the 2 cores), not the server's.", ref))
	sec.header("load", "server", "rate msg/s", "achieved msg/s", "p50 / p99 / p999 ms", "p99 × raw", "send lag p99 ms", "server CPU-µs/msg")
	for _, pct := range []int{50, 80, 95} {
		rate := ref * float64(pct) / 100
		res := map[string][]sample{}
		rounds := h.rounds
		if pct == 80 && h.full {
			rounds = max(rounds, targetRounds) // the load the target is judged at
		}
		peerErrs, err := h.interleave(ctx, list, rounds, func(ctx context.Context, s *server, round int) error {
			return h.once(ctx, s, fmt.Sprintf("w5-%d-r%d", pct, round), func(srv *running) error {
				args := h.echoArgs(srv, conns, size)
				for i := range args {
					args[i] = append(args[i], "-rate", strconv.FormatFloat(rate/float64(len(args)), 'f', 1, 64))
				}
				smp, err := h.measure(ctx, srv, args, h.warmup+h.duration)
				if err != nil {
					return err
				}
				smp.round = round
				res[s.name] = append(res[s.name], smp)
				fmt.Fprintf(os.Stderr, "  %-8s %d%%: %8.0f msg/s p50 %.2f p99 %.2f p999 %.2f ms\n", s.name, pct, smp.res.MsgPerS, smp.res.P50us/1e3, smp.res.P99us/1e3, smp.res.P999us/1e3)
				return nil
			})
		})
		if err != nil {
			return err
		}
		p99 := map[string]float64{}
		for _, s := range list {
			if peerErrs[s.name] != nil || len(res[s.name]) == 0 {
				sec.row(fmt.Sprintf("%d%%", pct), s.label, fmt.Sprintf("%.0f", rate), "failed: "+shorten(fmt.Sprint(peerErrs[s.name])), "", "", "", "")
				continue
			}
			var v []float64
			for _, r := range res[s.name] {
				v = append(v, r.res.P99us)
			}
			p99[s.name] = median(v)
		}
		for _, s := range list {
			if peerErrs[s.name] != nil || len(res[s.name]) == 0 {
				continue
			}
			var mps, p50, p999, lag, cpu []float64
			for _, r := range res[s.name] {
				mps = append(mps, r.res.MsgPerS)
				lag = append(lag, r.res.SendLagP99us)
				p50 = append(p50, r.res.P50us/1e3)
				p999 = append(p999, r.res.P999us/1e3)
				cpu = append(cpu, r.cpuUsPer(float64(r.res.Messages)))
			}
			x := "–"
			if s.name != "raw" {
				x = fmt.Sprintf("%.2f", p99[s.name]/p99["raw"])
			}
			if pct == 80 {
				h.rep.p99at80[s.name] = p99[s.name]
				h.rep.lagAt80[s.name] = median(lag)
				h.rep.p99at80Rounds[s.name] = map[int]roundFigs{}
				for _, r := range res[s.name] {
					h.rep.p99at80Rounds[s.name][r.round] = roundFigs{r.res.P99us}
				}
			}
			sec.row(fmt.Sprintf("%d%%", pct), s.label, fmt.Sprintf("%.0f", rate), fmt.Sprintf("%.0f", median(mps)),
				fmt.Sprintf("%.2f / %.2f / %.2f", median(p50), p99[s.name]/1e3, median(p999)), x, fmt.Sprintf("%.2f", median(lag)/1e3), fmt.Sprintf("%.2f", median(cpu)))
		}
	}
	return nil
}

// w6 is the handshake storm and slowloris.
func (h *harness) w6(ctx context.Context) error {
	if !h.full {
		return nil
	}
	sec := h.rep.section("W6a: handshake storm",
		"64 client goroutines dial, upgrade and close (RST) as fast as they can; upgrades per second and the "+
			"handshake latency (dial start → 101).")
	sec.header("server", "upgrades/s", "server CPU-µs/upgrade", "handshake p50 / p99 ms")
	for _, s := range h.pick(wsServers...) {
		err := h.once(ctx, s, "storm", func(srv *running) error {
			args := [][]string{{"-workload", "storm", "-addr", srv.addr, "-path", srv.s.echo, "-conc", "64",
				"-duration", h.duration.String(), "-warmup", h.warmup.String(), "-src", srcIPs(0) + "," + srcIPs(1)}}
			smp, err := h.measure(ctx, srv, args, h.warmup+h.duration)
			if err != nil {
				return err
			}
			fmt.Fprintf(os.Stderr, "  %-8s %8.0f upgrades/s p50 %.2f p99 %.2f ms\n", s.name, smp.res.UpgradesPerS, smp.res.P50us/1e3, smp.res.P99us/1e3)
			h.rep.storm[s.name] = smp.res.UpgradesPerS
			sec.row(s.label, fmt.Sprintf("%.0f", smp.res.UpgradesPerS), fmt.Sprintf("%.1f", smp.cpuUsPer(float64(smp.res.Upgrades))),
				fmt.Sprintf("%.2f / %.2f", smp.res.P50us/1e3, smp.res.P99us/1e3))
			return nil
		})
		if err != nil {
			if err := sec.failed(s, err, s.label); err != nil {
				return err
			}
			continue
		}
	}

	const slow, echoConns = 1000, 100
	dur := 15 * time.Second
	sec = h.rep.section("W6b: slowloris",
		fmt.Sprintf("%d connections send a WebSocket upgrade request one byte per second while %d other "+
			"connections run closed-loop 1 KiB echo for %v. The echo must keep going; a server with a handshake "+
			"timeout (wsc: 10 s) closes the slow ones.", slow, echoConns, dur))
	sec.header("server", "echo msg/s during the attack", "echo p99 ms", "slow conns closed by the server", "closed after (p50 / max)", "still open at the end")
	for _, s := range h.pick("wsc", "gorilla", "gobwas", "nbio") {
		err := h.once(ctx, s, "slowloris", func(srv *running) error {
			args := [][]string{
				{"-workload", "echo", "-mode", "ws", "-addr", srv.addr, "-path", srv.s.echo, "-conns", itoa(echoConns), "-size", "1024",
					"-duration", dur.String(), "-warmup", h.warmup.String(), "-src", srcIPs(0)},
				{"-workload", "slowloris", "-addr", srv.addr, "-path", srv.s.echo, "-conns", itoa(slow), "-interval", "1s",
					"-duration", (h.warmup + dur).String(), "-src", srcIPs(1)},
			}
			smp, err := h.measure(ctx, srv, args, h.warmup+dur)
			if err != nil {
				return err
			}
			p := smp.parts
			if len(p) != 2 {
				return errors.New("slowloris: missing results")
			}
			fmt.Fprintf(os.Stderr, "  %-8s echo %8.0f msg/s; slow conns closed %d (p50 %.0f ms), still open %d\n", s.name, p[0].MsgPerS, p[1].ClosedByServer, p[1].CloseAfterP50ms, p[1].StillOpen)
			if s.name == "wsc" {
				h.rep.slowlorisOK = p[1].ClosedByServer == slow && p[0].Errors == 0
			}
			sec.row(s.label, fmt.Sprintf("%.0f", p[0].MsgPerS), fmt.Sprintf("%.1f", p[0].P99us/1e3),
				fmt.Sprintf("%d of %d", p[1].ClosedByServer, slow),
				fmt.Sprintf("%.1f / %.1f s", p[1].CloseAfterP50ms/1e3, p[1].CloseAfterMaxms/1e3), itoa(p[1].StillOpen))
			return nil
		})
		if err != nil {
			if err := sec.failed(s, err, s.label); err != nil {
				return err
			}
			continue
		}
	}
	return nil
}

// w7 is large messages.
func (h *harness) w7(ctx context.Context) error {
	type lcase struct{ size, frag int }
	cases := []lcase{{1 << 20, 0}}
	servers := []string{"wsc"}
	if h.full {
		cases = []lcase{{1 << 20, 0}, {1 << 20, 64 << 10}, {16 << 20, 0}, {16 << 20, 1 << 20}}
		servers = wsServers
	}
	sec := h.rep.section("W7: large messages",
		"One connection echoes large binary messages in a closed loop, as one frame or in fragments; every "+
			"echo is compared byte for byte. Peak RSS is the server's VmHWM (a fresh server per case). Then a "+
			"16 MiB + 1 byte message is sent: the limit is 16 MiB, so the session must be closed with 1009.")
	sec.header("server", "message", "msg/s", "MB/s", "p50 / p99 ms", "server CPU-ms/msg", "peak RSS MB")
	codes := map[string]string{}
	for _, s := range h.pick(servers...) {
		for _, c := range cases {
			what := sizeLabel(c.size)
			if c.frag > 0 {
				what += " in " + sizeLabel(c.frag) + " fragments"
			}
			err := h.once(ctx, s, fmt.Sprintf("large-%d-%d", c.size, c.frag), func(srv *running) error {
				args := [][]string{{"-workload", "large", "-addr", srv.addr, "-path", srv.s.echo, "-conns", "1", "-size", itoa(c.size),
					"-frag", itoa(c.frag), "-duration", h.duration.String(), "-warmup", h.warmup.String()}}
				smp, err := h.measure(ctx, srv, args, h.warmup+h.duration)
				if err != nil {
					return err
				}
				_, hwm, _ := procRSS(srv.pid())
				fmt.Fprintf(os.Stderr, "  %-8s %-28s %6.1f msg/s %7.1f MB/s peak RSS %.1f MB\n", s.name, what, smp.res.MsgPerS, smp.res.MBPerS, hwm/1e6)
				sec.row(s.label, what, fmt.Sprintf("%.1f", smp.res.MsgPerS), fmt.Sprintf("%.0f", smp.res.MBPerS),
					fmt.Sprintf("%.1f / %.1f", smp.res.P50us/1e3, smp.res.P99us/1e3),
					fmt.Sprintf("%.2f", smp.cpuUsPer(float64(smp.res.Messages))/1e3), fmt.Sprintf("%.0f", hwm/1e6))
				return nil
			})
			if err != nil {
				if err := sec.failed(s, err, s.label, what); err != nil {
					return err
				}
				continue
			}
		}
		err := h.once(ctx, s, "limit", func(srv *running) error {
			g, err := h.startGroup(ctx, [][]string{{"-workload", "large", "-addr", srv.addr, "-path", srv.s.echo, "-conns", "1",
				"-size", itoa(16<<20 + 1), "-expect-close", "1009"}}, nil)
			if err != nil {
				return err
			}
			if err := g.waitReady(ctx, 30*time.Second); err != nil {
				return err
			}
			g.send("go")
			rs, err := g.wait(60 * time.Second)
			switch {
			case len(rs) == 1 && rs[0].CloseCode != 0:
				codes[s.name] = itoa(rs[0].CloseCode)
			case err != nil:
				codes[s.name] = "no close frame (" + shorten(err.Error()) + ")"
			default:
				codes[s.name] = "?"
			}
			if s.name == "wsc" {
				h.rep.limitOK = len(rs) == 1 && rs[0].CloseCode == 1009 && err == nil
			}
			return srv.alive()
		})
		if err != nil {
			if isOurs(s) {
				return err
			}
			fmt.Fprintln(os.Stderr, "  peer failed:", err)
			codes[s.name] = "failed: " + shorten(err.Error())
			continue
		}
	}
	var parts []string
	for _, s := range h.pick(servers...) {
		parts = append(parts, fmt.Sprintf("%s %s", s.name, codes[s.name]))
	}
	sec.text += "\n\nClose code for 16 MiB + 1: " + strings.Join(parts, ", ") + "."
	return nil
}

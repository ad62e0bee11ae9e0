// Command compare measures the wsc container's echo against a raw gnet TCP
// echo in one invocation, and prints a Markdown table.
//
//	cd bench && go run ./cmd/compare
//
// It builds the servers and the load generator into bench/bin: rawecho
// (./cmd/rawecho), load (./cmd/load) and wsc, the real container binary
// (./cmd/wsc of the main module, built in that module's directory as the
// owner builds it). Then, for -rounds rounds, it runs every server in turn
// (the order alternates between rounds): start the server on a free port of
// 127.0.0.1, run load against it (closed loop, -conns connections, -size
// byte messages, -warmup then -duration), and stop the server with
// SIGTERM. The server's CPU time (utime+stime from /proc/PID/stat) is read
// when load reports the start and the end of its measured window, so CPU
// per message covers exactly the counted messages.
//
// The machine may be shared. Before each run compare waits (-quiet-wait) for
// a second in which other processes use less than 0.15 core, and a run in
// whose window other processes and the hypervisor (steal) took more is run
// again (-redo times at most), keeping
// the least disturbed attempt; the per-run table shows the machine's idle,
// stolen and "other" CPU.
//
// The report gives, per server, the median msg/s and the median server
// CPU-µs per message over the rounds, and the ratios wsc/raw of the two
// medians. Any error (build, server start, load error, server crash or
// hang) stops the run with exit status 1.
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// server is one echo server under test.
type server struct {
	name  string // short name, as in -servers
	label string // for the table
	bin   string
	mode  string // load -mode
}

// loadResult is the JSON line of cmd/load.
type loadResult struct {
	Mode            string  `json:"mode"`
	Conns           int     `json:"conns"`
	Size            int     `json:"size"`
	Seconds         float64 `json:"seconds"`
	Messages        uint64  `json:"messages"`
	MsgPerS         float64 `json:"msg_per_s"`
	Errors          int64   `json:"errors"`
	MinConnMessages uint64  `json:"min_conn_messages"`
	P50us           float64 `json:"p50_us"`
	P99us           float64 `json:"p99_us"`
	Error           string  `json:"error"`
}

// sample is one measured run of one server.
type sample struct {
	round     int
	load      loadResult
	serverCPU float64 // seconds of server CPU in the window
	clientCPU float64 // seconds of load CPU in the window
	wall      float64 // seconds between the window marks, as seen here
	idle      float64 // machine idle CPU in the window, in cores
	steal     float64 // CPU stolen by the hypervisor in the window, in cores
	logIssues []string
	redone    int // disturbed attempts made besides this one
}

func (s sample) cpuUsPerMsg() float64 { return s.serverCPU * 1e6 / float64(s.load.Messages) }

// other is the CPU, in cores, that neither the server nor load used and
// that was not idle or stolen: other processes on the machine, kernel
// threads. More than disturbedCores means the run was disturbed.
func (s sample) other() float64 {
	return float64(runtime.NumCPU()) - s.idle - s.steal - (s.serverCPU+s.clientCPU)/s.wall
}

// disturbance is the CPU, in cores, taken from the benchmark by others:
// other processes, and the hypervisor (steal).
func (s sample) disturbance() float64 { return max(s.other(), 0) + s.steal }

type options struct {
	rounds   int
	conns    int
	size     int
	duration time.Duration
	warmup   time.Duration
	src      string
	servers  []string
	wscDir   string
	path     string
	quiet    time.Duration
	redo     int
}

// disturbedCores is how much CPU other processes and the hypervisor may
// take during a run before it counts as disturbed.
const disturbedCores = 0.15

var clkTck = 100.0

func main() {
	var o options
	var servers string
	flag.IntVar(&o.rounds, "rounds", 3, "interleaved rounds")
	flag.IntVar(&o.conns, "conns", 1000, "connections")
	flag.IntVar(&o.size, "size", 1024, "message size in bytes")
	flag.DurationVar(&o.duration, "duration", 10*time.Second, "measured window per run")
	flag.DurationVar(&o.warmup, "warmup", 2*time.Second, "load before the measured window")
	flag.StringVar(&o.src, "src", "", "comma-separated 127.0.0.x source IPs for load -src (empty: the kernel picks 127.0.0.1)")
	flag.StringVar(&servers, "servers", "raw,wsc", "servers to run, in order: raw (gnet TCP echo), wsc (the container)")
	flag.StringVar(&o.wscDir, "wsc-dir", "", "directory of the wsc module to build ./cmd/wsc in (default: where bench/go.mod's replace points, ../)")
	flag.StringVar(&o.path, "path", "/samples/echo", "echo endpoint path on wsc")
	flag.IntVar(&o.redo, "redo", 2, "run a disturbed run (other processes and steal took > 0.15 core in its window) again, up to this many times, and keep the least disturbed attempt")
	flag.DurationVar(&o.quiet, "quiet-wait", 60*time.Second, "before each run, wait up to this long for the machine to be quiet (other processes using < 0.15 core over 1s); 0: don't wait")
	flag.Parse()
	o.servers = strings.Split(servers, ",")

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, o); err != nil {
		fmt.Fprintln(os.Stderr, "compare: FAILED:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, o options) error {
	if o.rounds < 1 || o.conns < 1 || o.size < 1 {
		return errors.New("-rounds, -conns and -size must be positive")
	}
	benchDir, err := goList("", "-m", "-f", "{{.Path}} {{.Dir}}")
	if err != nil {
		return err
	}
	mod, dir, _ := strings.Cut(benchDir, " ")
	if mod != "github.com/wsc-dev/wsc/bench" {
		return fmt.Errorf("run compare from the bench module (cd bench), not from %s", mod)
	}
	benchDir = dir
	if o.wscDir == "" {
		if o.wscDir, err = goList(benchDir, "-m", "-f", "{{.Dir}}", "github.com/wsc-dev/wsc"); err != nil {
			return err
		}
	}
	if o.wscDir, err = filepath.Abs(o.wscDir); err != nil {
		return err
	}
	binDir := filepath.Join(benchDir, "bin")
	logDir := filepath.Join(binDir, "logs")
	if err := os.MkdirAll(logDir, 0o755); err != nil {
		return err
	}
	if v, err := exec.Command("getconf", "CLK_TCK").Output(); err == nil {
		if n, err := strconv.ParseFloat(strings.TrimSpace(string(v)), 64); err == nil && n > 0 {
			clkTck = n
		}
	}

	all := map[string]*server{
		"raw": {name: "raw", label: "raw gnet TCP echo", bin: filepath.Join(binDir, "rawecho"), mode: "tcp"},
		"wsc": {name: "wsc", label: "wsc " + o.path, bin: filepath.Join(binDir, "wsc"), mode: "ws"},
	}
	var list []*server
	for _, n := range o.servers {
		s := all[strings.TrimSpace(n)]
		if s == nil {
			return fmt.Errorf("-servers: unknown server %q (want raw or wsc)", n)
		}
		list = append(list, s)
	}

	fmt.Fprintln(os.Stderr, "building into", binDir)
	builds := []struct{ dir, out, pkg string }{
		{benchDir, filepath.Join(binDir, "rawecho"), "./cmd/rawecho"},
		{benchDir, filepath.Join(binDir, "load"), "./cmd/load"},
		{o.wscDir, filepath.Join(binDir, "wsc"), "./cmd/wsc"},
	}
	for _, b := range builds {
		cmd := exec.CommandContext(ctx, "go", "build", "-o", b.out, b.pkg)
		cmd.Dir = b.dir
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
		fmt.Fprintf(os.Stderr, "  (cd %s && go build -o %s %s)\n", b.dir, b.out, b.pkg)
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("build %s in %s: %w", b.pkg, b.dir, err)
		}
	}
	loadBin := filepath.Join(binDir, "load")

	env := describeEnv(o)
	results := map[string][]sample{}
	var runErr error
rounds:
	for r := 1; r <= o.rounds; r++ {
		order := slices.Clone(list)
		if r%2 == 0 {
			slices.Reverse(order)
		}
		for _, s := range order {
			if ctx.Err() != nil {
				runErr = ctx.Err()
				break rounds
			}
			var smp sample // the least disturbed attempt
			for try := 0; ; try++ {
				if o.quiet > 0 {
					waitQuiet(ctx, o.quiet)
				}
				logPath := filepath.Join(logDir, fmt.Sprintf("%s-round%d.log", s.name, r))
				got, err := measure(ctx, o, s, loadBin, logPath)
				if err != nil {
					runErr = fmt.Errorf("round %d, %s: %w", r, s.label, err)
					break rounds
				}
				if try == 0 || got.disturbance() < smp.disturbance() {
					smp = got
				}
				smp.redone = try
				if got.disturbance() <= disturbedCores || try >= o.redo {
					break
				}
				fmt.Fprintf(os.Stderr, "round %d %-4s disturbed: other processes and steal took %.2f cores (%.0f msg/s, %.2f CPU-µs/msg): running it again\n",
					r, s.name, got.disturbance(), got.load.MsgPerS, got.cpuUsPerMsg())
			}
			smp.round = r
			results[s.name] = append(results[s.name], smp)
			fmt.Fprintf(os.Stderr, "round %d %-4s %9.0f msg/s  server %5.2f CPU-µs/msg (%.2f cores)  load %.2f cores  idle %.2f  steal %.2f  other %.2f  p50 %.2f ms  p99 %.2f ms  min/conn %d  errors %d\n",
				r, s.name, smp.load.MsgPerS, smp.cpuUsPerMsg(), smp.serverCPU/smp.wall, smp.clientCPU/smp.wall, smp.idle, smp.steal, smp.other(),
				smp.load.P50us/1e3, smp.load.P99us/1e3, smp.load.MinConnMessages, smp.load.Errors)
			for _, l := range smp.logIssues {
				fmt.Fprintf(os.Stderr, "  server log: %s\n", l)
			}
		}
	}
	report(os.Stdout, o, env, list, results)
	return runErr
}

// measure runs one server under load once.
func measure(ctx context.Context, o options, s *server, loadBin, logPath string) (sample, error) {
	var smp sample
	addr, err := freeAddr()
	if err != nil {
		return smp, err
	}
	logf, err := os.Create(logPath)
	if err != nil {
		return smp, err
	}
	defer logf.Close()

	srvArgs := []string{"-listen", addr}
	if s.name == "wsc" {
		srvArgs = append(srvArgs, "-admin", "") // no admin listener: it would need a port of its own
	}
	srv := exec.Command(s.bin, srvArgs...)
	srv.Stdout, srv.Stderr = logf, logf
	srv.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := srv.Start(); err != nil {
		return smp, fmt.Errorf("start server: %w", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- srv.Wait() }()
	stopped := false
	defer func() {
		if !stopped {
			_ = srv.Process.Kill()
			<-exited
		}
	}()
	if err := waitListening(ctx, addr, exited); err != nil {
		return smp, fmt.Errorf("%w%s", err, logTail(logPath))
	}

	args := []string{"-mode", s.mode, "-addr", addr, "-path", o.path,
		"-conns", strconv.Itoa(o.conns), "-size", strconv.Itoa(o.size),
		"-duration", o.duration.String(), "-warmup", o.warmup.String()}
	if o.src != "" {
		args = append(args, "-src", o.src)
	}
	fmt.Fprintf(os.Stderr, "  %s -listen %s; load %s\n", filepath.Base(s.bin), addr, strings.Join(args, " "))
	limit := o.warmup + o.duration + 90*time.Second
	lctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	ld := exec.CommandContext(lctx, loadBin, args...)
	ld.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	var stdout bytes.Buffer
	ld.Stdout = &stdout
	stderr, err := ld.StderrPipe()
	if err != nil {
		return smp, err
	}
	if err := ld.Start(); err != nil {
		return smp, fmt.Errorf("start load: %w", err)
	}
	srvPid, ldPid := srv.Process.Pid, ld.Process.Pid
	var s0, s1, c0, c1 float64
	var m0, m1 machineCPU
	var t0, t1 time.Time
	var marks int
	var markErr error
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			line := sc.Text()
			switch line {
			case "load: window start":
				s0, markErr = cpuSeconds(srvPid)
				c0, _ = cpuSeconds(ldPid)
				m0 = readMachineCPU()
				t0 = time.Now()
				marks++
			case "load: window end":
				var err error
				if s1, err = cpuSeconds(srvPid); err != nil && markErr == nil {
					markErr = err
				}
				c1, _ = cpuSeconds(ldPid)
				m1 = readMachineCPU()
				t1 = time.Now()
				marks++
			default:
				fmt.Fprintln(os.Stderr, "  load:", line)
			}
		}
	}()
	wg.Wait()
	loadErr := ld.Wait()
	if lctx.Err() == context.DeadlineExceeded {
		return smp, fmt.Errorf("load did not finish within %v", limit)
	}
	if err := json.Unmarshal(bytes.TrimSpace(stdout.Bytes()), &smp.load); err != nil && loadErr == nil {
		loadErr = fmt.Errorf("bad load output %q: %w", stdout.String(), err)
	}
	select {
	case err := <-exited:
		stopped = true
		return smp, fmt.Errorf("server exited during the run (%v); load: %s%s", err, loadSummary(smp.load, loadErr), logTail(logPath))
	default:
	}
	if loadErr != nil || smp.load.Errors > 0 {
		return smp, fmt.Errorf("load failed: %s%s", loadSummary(smp.load, loadErr), logTail(logPath))
	}
	if markErr != nil || marks != 2 {
		return smp, fmt.Errorf("could not read the server's CPU time at the window marks (%d marks): %v", marks, markErr)
	}
	if smp.load.Messages == 0 {
		return smp, errors.New("load counted no messages")
	}
	smp.serverCPU, smp.clientCPU, smp.wall = s1-s0, c1-c0, t1.Sub(t0).Seconds()
	smp.idle, smp.steal = (m1.idle-m0.idle)/smp.wall, (m1.steal-m0.steal)/smp.wall

	// Stop the server as its owner would, and expect it to exit cleanly.
	_ = srv.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-exited:
		stopped = true
		if err != nil {
			return smp, fmt.Errorf("server exited with %v after SIGTERM%s", err, logTail(logPath))
		}
	case <-time.After(20 * time.Second):
		return smp, fmt.Errorf("server did not exit within 20s of SIGTERM%s", logTail(logPath))
	}
	smp.logIssues = logIssues(logPath)
	return smp, nil
}

func loadSummary(r loadResult, err error) string {
	msg := fmt.Sprintf("errors=%d", r.Errors)
	if r.Error != "" {
		msg += fmt.Sprintf(" first error: %s", r.Error)
	}
	if err != nil {
		msg += fmt.Sprintf(" (%v)", err)
	}
	return msg
}

// cpuSeconds returns utime+stime of a process, from /proc/PID/stat.
func cpuSeconds(pid int) (float64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The command name (field 2) is in parentheses and may hold spaces.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, fmt.Errorf("/proc/%d/stat: no command name", pid)
	}
	f := strings.Fields(string(b[i+1:]))
	// f[0] is field 3 (state); utime and stime are fields 14 and 15.
	if len(f) < 13 {
		return 0, fmt.Errorf("/proc/%d/stat: too few fields", pid)
	}
	ut, err1 := strconv.ParseUint(f[11], 10, 64)
	st, err2 := strconv.ParseUint(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("/proc/%d/stat: bad utime/stime", pid)
	}
	return float64(ut+st) / clkTck, nil
}

// machineCPU is the machine's idle (idle+iowait) and steal time in
// seconds, from the first line of /proc/stat.
type machineCPU struct{ idle, steal float64 }

func readMachineCPU() machineCPU {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return machineCPU{}
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	if len(f) < 9 || f[0] != "cpu" {
		return machineCPU{}
	}
	v := func(i int) float64 { n, _ := strconv.ParseFloat(f[i], 64); return n / clkTck }
	return machineCPU{idle: v(4) + v(5), steal: v(8)}
}

// readBusy returns the machine's busy CPU seconds (all but idle, iowait
// and steal), from /proc/stat.
func readBusy() (busy float64) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	if len(f) < 9 || f[0] != "cpu" {
		return 0
	}
	// user nice system idle iowait irq softirq steal; guest time is
	// already counted in user time.
	for i, v := range f[1:8] {
		if i == 3 || i == 4 {
			continue
		}
		n, _ := strconv.ParseFloat(v, 64)
		busy += n / clkTck
	}
	return busy
}

// waitQuiet waits, up to max, for a second in which other processes use
// less than 0.15 core, so that a run does not start in the middle of
// someone else's build or test.
func waitQuiet(ctx context.Context, max time.Duration) {
	deadline := time.Now().Add(max)
	said := false
	for {
		b0 := readBusy()
		t0 := time.Now()
		select {
		case <-ctx.Done():
			return
		case <-time.After(time.Second):
		}
		b1 := readBusy()
		busy := (b1 - b0) / time.Since(t0).Seconds()
		if busy < disturbedCores {
			return
		}
		if time.Now().After(deadline) {
			fmt.Fprintf(os.Stderr, "  machine still busy (%.2f cores used by others) after %v: running anyway\n", busy, max)
			return
		}
		if !said {
			fmt.Fprintf(os.Stderr, "  machine busy (%.2f cores used by others): waiting up to %v for it to quiet down\n", busy, max)
			said = true
		}
	}
}

// freeAddr returns a 127.0.0.1 address with a port that was free a moment ago.
func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	addr := l.Addr().String()
	return addr, l.Close()
}

func waitListening(ctx context.Context, addr string, exited <-chan error) error {
	deadline := time.Now().Add(15 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			_ = c.Close()
			return nil
		}
		select {
		case err := <-exited:
			return fmt.Errorf("server exited before listening: %v", err)
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("server not listening on %s after 15s", addr)
		}
	}
}

// logTail returns the last lines of a server log, for error messages.
func logTail(path string) string {
	b, err := os.ReadFile(path)
	if err != nil || len(b) == 0 {
		return ""
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > 20 {
		lines = lines[len(lines)-20:]
	}
	return "\n  server log " + path + " (tail):\n    " + strings.Join(lines, "\n    ")
}

// logIssues returns the warnings, errors and panics in a server log.
func logIssues(path string) []string {
	f, err := os.Open(path)
	if err != nil {
		return nil
	}
	defer f.Close()
	var out []string
	n := 0
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		l := sc.Text()
		if strings.Contains(l, "level=WARN") || strings.Contains(l, "level=ERROR") || strings.Contains(l, "panic") {
			n++
			if len(out) < 5 {
				out = append(out, l)
			}
		}
	}
	if n > len(out) {
		out = append(out, fmt.Sprintf("... %d such lines in all (%s)", n, path))
	}
	return out
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

// describeEnv returns the lines that say where and how the run was made.
func describeEnv(o options) []string {
	var lines []string
	add := func(k, v string) { lines = append(lines, fmt.Sprintf("- %s: %s", k, v)) }
	add("command", "`"+strings.TrimSpace("go run ./cmd/compare "+strings.Join(os.Args[1:], " "))+"` (in bench/)")
	if v, err := exec.Command("go", "version").Output(); err == nil {
		add("go", strings.TrimSpace(string(v)))
	}
	add("CPU", fmt.Sprintf("%s, %d logical CPUs", cpuModel(), runtime.NumCPU()))
	if v, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		add("kernel", strings.TrimSpace(string(v)))
	}
	add("GOMAXPROCS / GOGC", orDefault(os.Getenv("GOMAXPROCS"), "default")+" / "+orDefault(os.Getenv("GOGC"), "default (100)"))
	gitCmd := exec.Command("git", "describe", "--always", "--dirty")
	gitCmd.Dir = o.wscDir
	if v, err := gitCmd.Output(); err == nil {
		desc := fmt.Sprintf("%s at %s", o.wscDir, strings.TrimSpace(string(v)))
		st := exec.Command("git", "status", "--porcelain", "--untracked-files=no", "--", ".")
		st.Dir = o.wscDir
		if out, err := st.Output(); err == nil && len(bytes.TrimSpace(out)) > 0 {
			var files []string
			for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
				files = append(files, strings.TrimSpace(l[min(2, len(l)):]))
			}
			desc += " (uncommitted changes in " + strings.Join(files, ", ") + ")"
		}
		add("wsc", desc)
	}
	add("load", fmt.Sprintf("%d conns, %d B messages, closed loop (1 in flight per conn), %v warm-up, %v measured, %d rounds, order alternating per round",
		o.conns, o.size, o.warmup, o.duration, o.rounds))
	add("date", time.Now().Format(time.RFC3339))
	return lines
}

func cpuModel() string {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return "unknown"
	}
	for _, l := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(l, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return "unknown"
}

func orDefault(v, d string) string {
	if v == "" {
		return d
	}
	return v
}

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// report prints the Markdown report.
func report(w io.Writer, o options, env []string, list []*server, results map[string][]sample) {
	fmt.Fprintf(w, "\n## Echo: wsc vs raw gnet TCP, %d conns, %d B, closed loop\n\n", o.conns, o.size)
	for _, l := range env {
		fmt.Fprintln(w, l)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "| server | runs | msg/s median (min–max) | server CPU-µs/msg median (min–max) | server CPU (cores) | load CPU (cores) | p50 / p99 latency (ms) | errors |")
	fmt.Fprintln(w, "|---|---|---|---|---|---|---|---|")
	med := map[string][2]float64{}
	for _, s := range list {
		rs := results[s.name]
		if len(rs) == 0 {
			fmt.Fprintf(w, "| %s | 0 | – | – | – | – | – | – |\n", s.label)
			continue
		}
		var mps, cpu, sc, cc, p50, p99 []float64
		var errs int64
		for _, r := range rs {
			mps = append(mps, r.load.MsgPerS)
			cpu = append(cpu, r.cpuUsPerMsg())
			sc = append(sc, r.serverCPU/r.wall)
			cc = append(cc, r.clientCPU/r.wall)
			p50 = append(p50, r.load.P50us/1e3)
			p99 = append(p99, r.load.P99us/1e3)
			errs += r.load.Errors
		}
		med[s.name] = [2]float64{median(mps), median(cpu)}
		fmt.Fprintf(w, "| %s | %d | %.0f (%.0f–%.0f) | %.2f (%.2f–%.2f) | %.2f | %.2f | %.2f / %.2f | %d |\n",
			s.label, len(rs), median(mps), slices.Min(mps), slices.Max(mps),
			median(cpu), slices.Min(cpu), slices.Max(cpu), median(sc), median(cc), median(p50), median(p99), errs)
	}
	raw, okRaw := med["raw"]
	wsc, okWsc := med["wsc"]
	if okRaw && okWsc {
		fmt.Fprintf(w, "| **wsc / raw** (ratio of medians) | | **%.3f** | **%.3f** | | | | |\n", wsc[0]/raw[0], wsc[1]/raw[1])
		// The same ratios within each round, whose two runs were next to
		// each other in time.
		var rm, rc []float64
		for _, a := range results["raw"] {
			for _, b := range results["wsc"] {
				if a.round == b.round {
					rm = append(rm, b.load.MsgPerS/a.load.MsgPerS)
					rc = append(rc, b.cpuUsPerMsg()/a.cpuUsPerMsg())
				}
			}
		}
		if len(rm) > 0 {
			fmt.Fprintf(w, "| wsc / raw (median of per-round ratios) | %d | %.3f (%.3f–%.3f) | %.3f (%.3f–%.3f) | | | | |\n",
				len(rm), median(rm), slices.Min(rm), slices.Max(rm), median(rc), slices.Min(rc), slices.Max(rc))
		}
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "msg/s ratio < 1: wsc echoes fewer messages per second than raw gnet. CPU-µs/msg ratio > 1: wsc spends more server CPU per message (1.20 = 20% more).")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Per run:")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "| round | server | msg/s | server CPU-µs/msg | server CPU (cores) | load CPU (cores) | machine idle / steal / other (cores) | p50 / p99 (ms) | min msgs per conn | disturbed runs redone |")
	fmt.Fprintln(w, "|---|---|---|---|---|---|---|---|---|---|")
	var all []sample
	names := map[int]string{}
	for _, s := range list {
		for _, r := range results[s.name] {
			names[len(all)] = s.name
			all = append(all, r)
		}
	}
	idx := make([]int, len(all))
	for i := range idx {
		idx[i] = i
	}
	slices.SortStableFunc(idx, func(a, b int) int { return all[a].round - all[b].round })
	disturbed := 0
	for _, i := range idx {
		r := all[i]
		if r.disturbance() > disturbedCores {
			disturbed++
		}
		fmt.Fprintf(w, "| %d | %s | %.0f | %.2f | %.2f | %.2f | %.2f / %.2f / %.2f | %.2f / %.2f | %d | %d |\n", r.round, names[i], r.load.MsgPerS,
			r.cpuUsPerMsg(), r.serverCPU/r.wall, r.clientCPU/r.wall, r.idle, r.steal, r.other(), r.load.P50us/1e3, r.load.P99us/1e3, r.load.MinConnMessages, r.redone)
	}
	if disturbed > 0 {
		fmt.Fprintf(w, "\n**Warning:** in %d of %d runs other processes and steal took more than %.2f core (columns \"steal\" and \"other\") even after -redo %d reruns: msg/s is not comparable between those runs; CPU-µs/msg is less affected.\n", disturbed, len(all), disturbedCores, o.redo)
	}
}

# The README's commands. `make test` is what CI runs (through .ci/run).
# Fuzzing budgets are execution counts, not durations: with a duration, Go
# 1.26's fuzz coordinator can report its own deadline as a failure
# ("context deadline exceeded", no failing input; go.dev/issue/75804,
# fixed in Go 1.27) on a loaded machine. A count has no deadline to race.
FUZZN ?= 50000x
FUZZN_FRAMES ?= 10000x

.PHONY: run test vet fuzz

run:
	go run ./cmd/wsc

vet:
	@test -z "$$(gofmt -l .)" || (echo "gofmt needed:"; gofmt -l .; exit 1)
	go vet ./...
	cd bench && go vet ./...

# Everything with the race detector, then the allocation tests (the race
# detector makes sync.Pool drop buffers, so they run without), the
# benchmark harness's own tests (its load generator and peer servers, not
# timed), then each fuzzer briefly.
test: vet
	go test -race -count=1 -timeout 20m ./...
	go test -count=1 -run 'Allocs' ./container/
	cd bench && go test -count=1 ./...
	$(MAKE) fuzz

# -fuzzminimizetime bounds how long a new input is minimized (default 60 s,
# which stalls a short run); a count here too.
FUZZ = go test -run '^$$' -fuzzminimizetime 2000x

fuzz:
	$(FUZZ) -fuzztime $(FUZZN_FRAMES) ./container/ -fuzz '^FuzzFrames$$'
	$(FUZZ) -fuzztime $(FUZZN) ./container/ -fuzz '^FuzzDecodeHeader$$'
	$(FUZZ) -fuzztime $(FUZZN) ./container/ -fuzz '^FuzzUTF8Validator$$'
	$(FUZZ) -fuzztime $(FUZZN) ./container/ -fuzz '^FuzzHandshake$$'
	$(FUZZ) -fuzztime $(FUZZN) ./descriptor/ -fuzz '^FuzzParse$$'
	$(FUZZ) -fuzztime $(FUZZN) ./endpoint/ -fuzz '^FuzzPathTemplate$$'
	$(FUZZ) -fuzztime $(FUZZN) ./failover/ -fuzz '^FuzzDecodeProperties$$'
	$(FUZZ) -fuzztime $(FUZZN) ./failover/ -fuzz '^FuzzDecodeMsg$$'

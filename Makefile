# The README's commands. `make test` is what CI runs (through .ci/run).
FUZZTIME ?= 10s

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
# which stalls a short run).
FUZZ = go test -run '^$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 1s

fuzz:
	$(FUZZ) ./container/ -fuzz '^FuzzFrames$$'
	$(FUZZ) ./container/ -fuzz '^FuzzDecodeHeader$$'
	$(FUZZ) ./container/ -fuzz '^FuzzUTF8Validator$$'
	$(FUZZ) ./container/ -fuzz '^FuzzHandshake$$'
	$(FUZZ) ./descriptor/ -fuzz '^FuzzParse$$'
	$(FUZZ) ./endpoint/ -fuzz '^FuzzPathTemplate$$'

# The README's commands. `make test` is what CI runs (through .ci/run).
FUZZTIME ?= 10s

.PHONY: run test vet fuzz

run:
	go run ./cmd/wsc

vet:
	@test -z "$$(gofmt -l .)" || (echo "gofmt needed:"; gofmt -l .; exit 1)
	go vet ./...

# Everything with the race detector, then the allocation test (the race
# detector makes sync.Pool drop buffers, so it runs without), then each
# fuzzer briefly.
test: vet
	go test -race -count=1 -timeout 20m ./...
	go test -count=1 -run 'Allocs' ./container/
	$(MAKE) fuzz

fuzz:
	go test -run '^$$' -fuzz '^FuzzDecodeHeader$$' -fuzztime $(FUZZTIME) ./container/
	go test -run '^$$' -fuzz '^FuzzUTF8Validator$$' -fuzztime $(FUZZTIME) ./container/
	go test -run '^$$' -fuzz '^FuzzHandshake$$' -fuzztime $(FUZZTIME) ./container/

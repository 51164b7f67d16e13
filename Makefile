# wainbox: the two commands a new user needs are `make run` and `make test`.
# DATABASE_URL is used when set; otherwise cmd/wainbox-devdb finds a PostgreSQL on 127.0.0.1:5432 or
# starts a throwaway cluster under .pgdata/ (installing PostgreSQL with apt-get when it is missing).

GO ?= go
BIN := bin/wainbox
ADMIN_EMAIL ?= admin@wainbox.local

.PHONY: run build test lint generate check-generated check-imports bench chaos devdb clean

build:
	$(GO) build -o $(BIN) ./cmd/wainbox

# run starts the whole system locally: migrations, the first admin (printed), the simulator in place
# of Meta and Google unless WHATSAPP_ACCESS_TOKEN is set, and text logs.
run: build
	@set -e; \
	DATABASE_URL="$$($(GO) run ./cmd/wainbox-devdb -database wainbox)"; export DATABASE_URL; \
	if [ -z "$$WHATSAPP_ACCESS_TOKEN" ] && [ -z "$$SIMULATOR" ]; then export SIMULATOR=1; fi; \
	export LOG_FORMAT="$${LOG_FORMAT:-text}"; \
	./$(BIN) migrate; \
	exec ./$(BIN) serve --bootstrap-admin $(ADMIN_EMAIL)

# test runs every test against a real PostgreSQL (each test gets its own database) with the race
# detector.
test:
	$(GO) test -race -count=1 -timeout 30m ./...

lint: check-generated check-imports
	@out="$$(gofmt -l $$(git ls-files '*.go'))"; if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(GO) tool staticcheck ./...

# check-imports fails when production code imports a test-only package: apptest, dbtest and devdb
# may be imported by tests, by one another, by the benchmarks and by the dev-database command, and
# by nothing that ships in the server (docs/architecture.md).
TEST_ONLY := internal/(apptest|dbtest|devdb)
TEST_ONLY_USERS := (bench|bench/[a-z/]+|cmd/wainbox-devdb|internal/apptest|internal/dbtest)
check-imports:
	@bad="$$($(GO) list -f '{{$$p := .ImportPath}}{{range .Imports}}{{$$p}} {{.}}{{"\n"}}{{end}}' ./... \
		| grep -E ' github.com/wainbox/wainbox/$(TEST_ONLY)$$' \
		| grep -vE '^github.com/wainbox/wainbox/$(TEST_ONLY_USERS) ')"; \
	if [ -n "$$bad" ]; then echo "production code imports a test-only package:"; echo "$$bad"; exit 1; fi

generate:
	$(GO) tool sqlc generate

# check-generated fails when db/ does not match queries/ and migrations/.
check-generated:
	$(GO) tool sqlc diff

# bench prints one table of throughput and latency figures next to this machine's ceilings.
bench:
	$(GO) run ./bench

# chaos (a few minutes; not part of test) proves the delivery guarantees under faults: several
# instances behind a load balancer on a throwaway PostgreSQL cluster of its own, Meta refusing and
# losing sends, kill -9 of instances, a database restart and freeze; one table, non-zero exit when
# a target is missed. Flags: make chaos CHAOS_FLAGS='-sends 300 -inbound 300 -kills 2'.
chaos:
	$(GO) run ./bench/chaos $(CHAOS_FLAGS)

devdb:
	@$(GO) run ./cmd/wainbox-devdb -database wainbox

clean:
	rm -rf bin

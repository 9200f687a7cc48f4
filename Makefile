# benchd — `make help` lists the targets.
GO      ?= go
SQLC    := $(GO) tool -modfile=tools/go.mod sqlc
STATICCHECK := $(GO) tool -modfile=tools/go.mod staticcheck
PKGS    := ./...

.DEFAULT_GOAL := help

.PHONY: help
help: ## list the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z\/_-]+:.*## / {printf "  %-12s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

.PHONY: build
build: ## build ./bin/benchd
	$(GO) build -o bin/benchd ./cmd/benchd

.PHONY: generate
generate: ## regenerate the sqlc code (needs the tools module; ~3 min the first time)
	$(SQLC) generate

.PHONY: verify
verify: ## fail when generated code is stale, code is not gofmt'ed or go.mod is untidy
	$(SQLC) diff
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) mod tidy -diff

.PHONY: lint
lint: ## go vet and staticcheck
	$(GO) vet $(PKGS)
	$(STATICCHECK) $(PKGS)

.PHONY: test
test: ## run all tests (a private PostgreSQL is started when no DATABASE_URL is set)
	$(GO) test $(PKGS)

.PHONY: test/race
test/race: ## run all tests with the race detector
	$(GO) test -race $(PKGS)

.PHONY: bench
bench: ## run the benchmarks of benchd itself (db, runner, web), 6 samples each
	$(GO) test -run '^$$' -bench . -benchmem -count 6 ./db/... ./runner/... ./web/...

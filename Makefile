# The two commands people run: `make up` and `make test`. Everything else is what they use.
VENV := .venv
BIN := $(VENV)/bin
PYTEST_ARGS ?=

.PHONY: up test setup docker venv images images-all web lint unit integration clean

up: setup
	$(BIN)/coderunner up

# pytest exits 5 when it collected no tests: that is a failure, never a pass. Tests run every
# language of the catalog, so they need every image, not only the default set `make up` builds.
test: setup images-all lint
	@$(BIN)/pytest $(PYTEST_ARGS); code=$$?; \
	if [ $$code -eq 5 ]; then echo "pytest collected no tests" >&2; exit 1; fi; exit $$code

setup: docker venv images web

docker:
	@infra/setup/ensure-docker.sh

venv:
	@infra/setup/ensure-venv.sh

images: docker venv
	@$(BIN)/coderunner images build

images-all: docker venv
	@$(BIN)/coderunner images build --all

web:
	@infra/setup/ensure-web.sh
	@infra/setup/ensure-chromium.sh

lint: venv
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/mypy --no-namespace-packages runners/agent/*.py

unit: venv
	$(BIN)/pytest tests/unit

integration: setup images-all
	$(BIN)/pytest tests/integration

clean:
	rm -rf .data .pytest_cache .mypy_cache .ruff_cache

# csms: the two commands that matter are `make run` and `make test`.
PYTHON ?= python3
HOST ?= 127.0.0.1
PORT ?= 8000
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEV_STAMP := $(VENV)/.installed-dev

.PHONY: install install-dev browser tools vendor postman run test screenshots lint format bench clean

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e .
	touch $@

install-dev: $(DEV_STAMP)

$(DEV_STAMP): $(STAMP) pyproject.toml
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

run: install
	$(BIN)/csms migrate
	$(BIN)/csms serve --host $(HOST) --port $(PORT)

# The browser tests drive Debian's Chromium through Playwright; Playwright never downloads a browser here.
# Two checkouts' `make test` on a new machine install it one after the other (flock), and apt waits for
# a lock another apt holds instead of failing at once.
APT := apt-get -o DPkg::Lock::Timeout=600
# Chromium, and a Japanese font: without one the Japanese pages render as boxes, so their screenshots and their
# layout checks at 360 px (tests/test_web_languages.py) would not be what a phone shows.
CJK_FONT := /usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc
browser:
	test -x /usr/bin/chromium -a -e $(CJK_FONT) || flock /tmp/csms-browser-install.lock sh -c \
		'test -x /usr/bin/chromium -a -e $(CJK_FONT) || ($(APT) update && $(APT) install -y chromium fonts-noto-cjk)'

# The npm tools the tests run, kept in .tools/ and installed together in one npm install (a later
# `npm install --no-save` of one package would prune the other): newman runs the Postman collection's Flow
# in tests/test_postman.py; ocpp-rpc, pinned, is the independent strict OCPP peer of tests/test_strict_peer.py.
# The stamp names the ocpp-rpc version, so changing the pin installs again.
OCPP_RPC_VERSION := 2.2.1
TOOLS_STAMP := .tools/.installed-ocpp-rpc-$(OCPP_RPC_VERSION)

tools: $(TOOLS_STAMP)

$(TOOLS_STAMP):
	npm install --prefix .tools --no-save --no-audit --no-fund newman ocpp-rpc@$(OCPP_RPC_VERSION)
	touch $@

# The browser libraries of the web pages, pinned in package.json / package-lock.json, copied from npm's build
# into src/csms/web/static/vendor/ with their licence and version. The copies are committed, so `make run`
# needs no Node.js; run this after changing a pin (tests/test_web_vendor.py checks the copies match the lock).
ZXING_WASM := node_modules/zxing-wasm
ZXING_VENDOR := src/csms/web/static/vendor/zxing-wasm
I18NEXT := node_modules/i18next
I18NEXT_VENDOR := src/csms/web/static/vendor/i18next
vendor:
	npm ci --no-audit --no-fund --ignore-scripts
	rm -rf $(ZXING_VENDOR) && mkdir -p $(ZXING_VENDOR)/reader
	cp $(ZXING_WASM)/dist/es/share.js $(ZXING_WASM)/LICENSE $(ZXING_VENDOR)/
	cp $(ZXING_WASM)/dist/es/reader/index.js $(ZXING_WASM)/dist/reader/zxing_reader.wasm $(ZXING_VENDOR)/reader/
	node -p 'require("./$(ZXING_WASM)/package.json").version' > $(ZXING_VENDOR)/VERSION
	rm -rf $(I18NEXT_VENDOR) && mkdir -p $(I18NEXT_VENDOR)
	cp $(I18NEXT)/dist/esm/i18next.js $(I18NEXT)/LICENSE $(I18NEXT_VENDOR)/
	node -p 'require("./$(I18NEXT)/package.json").version' > $(I18NEXT_VENDOR)/VERSION

# Regenerates docs/postman/csms.postman_collection.json from the OpenAPI document.
postman: install-dev
	$(BIN)/python docs/postman/generate.py

# Two workers: the tests wait on servers, sockets and browsers more than they compute, so two halves of the
# suite overlap on two cores. Tests on the two share the NATS server, each under its own namespace (tests/conftest.py).
test: install-dev browser tools
	$(BIN)/python -m pytest -n 2

# Screenshots of every page at 360 px and desktop width, for docs/screens.md.
screenshots: install-dev browser
	CSMS_SCREENSHOTS=docs/screenshots $(BIN)/python -m pytest -q -n 2 tests/test_web_*.py

# ruff (lint and format), mypy strict, and deptry: an import under src/ that is not a runtime dependency
# (or a runtime dependency nothing uses) fails here rather than in a user's `make run`.
lint: install-dev
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy
	$(BIN)/deptry src

format: install-dev
	$(BIN)/ruff format src tests bench
	$(BIN)/ruff check --fix src tests bench

clean:
	rm -rf $(VENV) build dist src/*.egg-info .pytest_cache .mypy_cache .ruff_cache

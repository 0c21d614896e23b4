# Jishi — two commands: `make demo` and `make test`.
PORT ?= 8000
UV := $(shell command -v uv 2>/dev/null || echo .venv-tools/bin/uv)
VENV := .venv
JISHI := $(VENV)/bin/jishi

.PHONY: demo test env browser lint format messages clean

$(UV):
	python3 -m venv .venv-tools && .venv-tools/bin/pip install -q uv

env: $(VENV)/.synced

$(VENV)/.synced: pyproject.toml uv.lock | $(UV)
	$(UV) sync --frozen --all-groups
	touch $@

demo: env
	$(JISHI) migrate --noinput
	$(JISHI) seed
	PORT=$(PORT) $(JISHI) serve

# Browser journeys use Debian's chromium; install it when we can (root), else they skip.
browser:
	@if [ ! -x /usr/bin/chromium ] && [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		echo "installing chromium and CJK fonts for the browser tests"; \
		(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-noto-cjk fonts-noto-color-emoji) >/dev/null; \
	fi

test: env browser
	$(VENV)/bin/pytest

lint: env
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: env
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

# Needs GNU gettext (apt-get install gettext); the compiled .mo files are committed.
messages: env
	cd jishi && ../$(JISHI) makemessages -l zh_Hans --no-obsolete && ../$(JISHI) compilemessages -l zh_Hans

clean:
	rm -rf $(VENV) .venv-tools var/

# The two commands a newcomer runs: `make run` and `make test` (README.md).
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
FLASK := $(VENV)/bin/flask --app wsgi
HOST ?= 127.0.0.1
PORT ?= 5000
# The PostgreSQL server the suite runs a second time against, when one answers.
TEST_POSTGRES_URL ?= postgresql+psycopg://postgres@127.0.0.1:5432/test

.PHONY: run test typecheck test-sqlite test-postgres venv system-deps demo clean i18n

# The virtual environment is rebuilt whenever setup.cfg changes.
$(VENV)/.installed: setup.cfg
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test,postgres,gunicorn,redis]'
	touch $@

venv: $(VENV)/.installed

# Debian packages the project needs (a CJK font for labels, chromium for browser tests).
system-deps:
	bash .ci/system-deps

run: venv system-deps
	$(FLASK) db upgrade
	$(FLASK) demo load --base-url http://$(HOST):$(PORT)
	$(FLASK) run --host $(HOST) --port $(PORT)

# The type check runs once, first (prerequisites are made left to right): a failure stops here.
test: venv system-deps typecheck test-sqlite test-postgres

# mypy, strict (configuration: setup.cfg [mypy]).
typecheck: venv
	$(PY) -m mypy ledger trace credit labels web

test-sqlite: venv
	$(PY) -m pytest

# Runs the suite again on PostgreSQL when a server answers; each run creates and
# drops a database of its own, so no other data is touched.
test-postgres: venv
	@if $(PY) -c "import psycopg,sys; psycopg.connect('$(TEST_POSTGRES_URL)'.replace('+psycopg',''), connect_timeout=3).close()" 2>/dev/null; then \
		echo "== PostgreSQL answers: running the suite against it"; \
		TEST_POSTGRES_URL='$(TEST_POSTGRES_URL)' $(PY) -m pytest; \
	else \
		echo "== no PostgreSQL at $(TEST_POSTGRES_URL): PostgreSQL run skipped"; \
	fi

clean:
	rm -rf $(VENV) instance build *.egg-info

# Extract translatable strings and update/compile the Chinese catalog (for developers).
i18n: venv
	$(VENV)/bin/pybabel extract -F babel.cfg -k _ -k lazy_gettext -o web/translations/messages.pot .
	$(VENV)/bin/pybabel update -i web/translations/messages.pot -d web/translations -l zh
	$(VENV)/bin/pybabel compile -d web/translations -l zh

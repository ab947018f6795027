# SEMweb: the two commands are `make run` and `make test` (see README.md).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
export YOLO_OFFLINE := 1
export YOLO_AUTOINSTALL := false
export YOLO_CONFIG_DIR := $(CURDIR)/var/ultralytics

.PHONY: run test install lint format bench migrate demo clean-var e2e bpartis
BPARTIS := var/models/bpartis-seg-model.pt

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip setuptools wheel
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

migrate: install
	$(PY) manage.py migrate --noinput

demo: migrate
	$(PY) manage.py seed_demo

## Serve the app on http://127.0.0.1:8000 with a Celery worker (Ctrl-C stops both).
run: demo
	$(PY) manage.py serve_all --addr 127.0.0.1:8000

## Install if needed and run the whole suite (PostgreSQL/Redis when DATABASE_URL/CELERY_BROKER_URL are set).
test: install
	$(VENV)/bin/ruff check .
	DJANGO_SETTINGS_MODULE=semweb.settings.test $(PY) -m pytest -q -p no:cacheprovider --timeout 900

e2e: install
	DJANGO_SETTINGS_MODULE=semweb.settings.test $(PY) -m pytest -q tests/e2e

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: install
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

## Benchmarks: speed as ratios against a baseline measured in the same run, and accuracy.
## The peer model (BPartIS, MIT) for the benches: its weights are read out of the IDE wheel from
## PyPI; the package itself is never installed (its dependencies are stale).
$(BPARTIS): | install
	mkdir -p var/wheels
	$(PY) -m pip download --quiet --no-deps imagedataextractor==2.0.4 -d var/wheels
	$(PY) -m analysis.segment.bpartis var/wheels/imagedataextractor-2.0.4-py3-none-any.whl

bpartis: $(BPARTIS)

bench: install bpartis
	$(PY) -m benchmarks.engine
	DJANGO_SETTINGS_MODULE=semweb.settings.local $(PY) -m benchmarks.web
	DJANGO_SETTINGS_MODULE=semweb.settings.local $(PY) -m benchmarks.web_edits

clean-var:
	rm -rf var/

# minikube_py — install, test, lint, bench.  Run as root on Debian 12.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
# Debian packages the project needs: pause process, QEMU guest for cgroup v2 tests, peer runtime for benchmarks.
APT_PACKAGES := catatonit qemu-system-x86 linux-image-amd64 busybox-static kmod iproute2 crun procps util-linux systemd vagrant vagrant-libvirt

.PHONY: install apt venv guest test test-unit test-root lint bench clean

install: apt venv guest

apt:
	@missing=""; for p in $(APT_PACKAGES); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "apt: installing$$missing"; \
	  apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $$missing; \
	else echo "apt: all packages present"; fi

venv: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test]'
	touch $(STAMP)

guest: venv
	$(PY) -m tests.vm.guest prepare

# pytest exits 5 when it collected no tests; make would turn that into its own status 2, so say it here.
test:
	@$(VENV)/bin/pytest; rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "make test: pytest collected no tests"; exit 0; fi; exit $$rc

test-unit:
	$(VENV)/bin/pytest tests/unit

lint:
	$(VENV)/bin/ruff check minikube_py tests bench
	$(VENV)/bin/mypy

bench:
	$(PY) -m bench.run

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache build *.egg-info

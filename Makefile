# The two commands: `make demo` and `make test`. Each sets up .venv on first use.
VENV   ?= .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip --disable-pip-version-check
STAMP  := $(VENV)/.installed
TORCH  ?= torch==2.13.0
TF     ?=
# keras-hub pulls tensorflow-text, built for one TensorFlow release: not in the TF 2.20 venv
EXTRAS ?= convert,test,backends,export,presets

.PHONY: demo test install clean bench test-tf220

$(STAMP): setup.cfg pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	# torch first and pinned: a loose requirement would pull the CUDA build.
	$(PIP) install -q "$(TORCH)"
	# OpenCV without contrib (an older install of this venv) shares the cv2 folder with the
	# contrib build the package needs (HOG people detector): remove both, install contrib.
	if $(PIP) show -q opencv-python-headless 2>/dev/null; then \
	  $(PIP) uninstall -q -y opencv-python-headless opencv-contrib-python-headless; fi
	$(PIP) install -q -e ".[$(EXTRAS)]" $(if $(TF),"$(TF)")
	touch $(STAMP)

install: $(STAMP)

test: $(STAMP)
	$(PY) -m pytest -q -p no:cacheprovider -n 2 --dist loadgroup tests

# The suite on TensorFlow 2.20, the last release with TPU builds (its own venv).
test-tf220:
	$(MAKE) test VENV=.venv-tf220 TF="tensorflow==2.20.*" EXTRAS=convert,test,backends,export

demo: $(STAMP)
	$(PY) -m videomae_tf.demo --output demo_output

# Speed scripts: JSON under benchmarks/results/ (Pillow for the official-style baseline).
bench: $(STAMP)
	$(PIP) install -q -e ".[bench]"
	for f in benchmarks/*.py; do $(PY) $$f || exit 1; done

clean:
	rm -rf $(VENV) .venv-tf220 demo_output build *.egg-info

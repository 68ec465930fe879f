# The two commands a new user needs: `make demo` and `make test`.
# Both set up first (scripts/setup.sh is idempotent: seconds when nothing changed).
.PHONY: setup demo test lint clean

setup:
	bash scripts/setup.sh

demo: setup
	bash scripts/demo.sh

test: setup
	scripts/env.sh python -m pytest $(PYTEST_ARGS)

lint: setup
	scripts/env.sh ruff check edge_llm_ros test launch scripts

clean:
	rm -rf build install log .colcon out

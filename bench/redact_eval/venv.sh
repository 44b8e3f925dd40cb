# Sourced by bench/redact_eval.sh and bench/redact_stream.sh: sets $venv to
# a Python environment with the evaluation's generators and Presidio
# ($REDACT_EVAL_VENV, else one in the cargo target directory), installing
# them the first time.
venv="${REDACT_EVAL_VENV:-$CARGO_TARGET_DIR/redact-eval-venv}"
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
"$venv/bin/python" -c 'import faker, phonenumbers, stdnum, presidio_analyzer, spacy, tldextract' 2>/dev/null \
  || "$venv/bin/pip" install -q faker phonenumbers python-stdnum presidio-analyzer spacy tldextract

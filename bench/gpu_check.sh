#!/usr/bin/env bash
# The GPU check, one command on a machine with an NVIDIA GPU (and network for the installs):
#
#     bash bench/gpu_check.sh [DATA]
#
# 1. installs what it needs into two venvs beside the repo: .venv-gpu (tutor on a CUDA torch
#    wheel) and .venv-vllm (vLLM, when it installs here: it pins its own torch and transformers);
# 2. trains shakespeare-char with torchrun on the GPU; reports ms/iter and val loss against the
#    CPU figures in BENCHMARKS.md;
# 3. serves a chat model with vLLM (SERVE_MODEL: SmolLM2-135M-Instruct, the model tutor ships,
#    from the hub; the char-level model trained in step 2 has a 64-character context, too short
#    for a tutor prompt), runs `tutor explain --backend openai` against it and
#    `bench/serve_load.py --url`;
# 4. prints one table.
# Without a GPU it stops at once with one line and installs nothing. Budget: under 8 minutes
# (each stage has a time limit within that budget; vLLM's install and first start dominate).
#
# Settings (environment): NPROC (torchrun processes, default 1, so the global batch matches the
# CPU run), SERVE_MODEL (a hub id or folder for vLLM), CUDA_WHEELS (the torch wheel index),
# GPU_VENV, VLLM_VENV, PYTHON.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
started=$SECONDS
die() { echo "gpu_check: $*" >&2; exit 1; }
step() { echo "gpu_check: $* ($((SECONDS - started)) s)" >&2; }
budget() {  # budget N: seconds a stage may take, at most N and never past 7 min 50 s in all
  local left=$((started + 470 - SECONDS))
  [ "$left" -lt "$1" ] || left=$1
  [ "$left" -gt 5 ] && echo "$left" || echo 5
}

# ---- 0. a GPU, before anything is installed ---------------------------------------------------
command -v nvidia-smi >/dev/null 2>&1 \
  || die "no NVIDIA GPU here: nvidia-smi is not installed; run this on a machine with an NVIDIA GPU and driver"
gpus=$(nvidia-smi --query-gpu=name --format=csv,noheader 2>&1) \
  || die "no usable NVIDIA GPU: nvidia-smi failed: ${gpus%%$'\n'*}"
[ -n "$gpus" ] || die "no NVIDIA GPU: nvidia-smi lists none"
gpu_count=$(echo "$gpus" | wc -l)
gpu_name=$(echo "$gpus" | head -n 1)
driver=$(nvidia-smi --query-gpu=driver_version --format=csv,noheader 2>/dev/null | head -n 1)

DATA=${1:-../shared/data/tinyshakespeare.txt}
NPROC=${NPROC:-1}
PYTHON=${PYTHON:-python3}
GPU_VENV=${GPU_VENV:-.venv-gpu}
VLLM_VENV=${VLLM_VENV:-.venv-vllm}
CUDA_WHEELS=${CUDA_WHEELS:-https://download.pytorch.org/whl/cu128}
SERVE_MODEL=${SERVE_MODEL:-HuggingFaceTB/SmolLM2-135M-Instruct}
SERVED_NAME=tutor-gpu-check
PORT=${PORT:-8731}
OUT=out/gpu-check
mkdir -p "$OUT"
# The CPU figures this is compared with (BENCHMARKS.md, `tutor train`, shakespeare-char, 1 thread).
CPU_MS=125.7
CPU_VAL=1.8966

# ---- 1. installs ------------------------------------------------------------------------------
install() {  # install VENV ARGS...: uv when it is there (much faster), else pip
  local venv=$1; shift
  if "$venv/bin/python" -m uv --version >/dev/null 2>&1; then
    "$venv/bin/python" -m uv pip install --quiet --python "$venv/bin/python" "$@"
  else
    "$venv/bin/python" -m pip install --quiet "$@"
  fi
}
make_venv() {
  [ -x "$1/bin/python" ] || "$PYTHON" -m venv "$1" || die "cannot create $1 with $PYTHON -m venv"
  "$1/bin/python" -m pip install --quiet --upgrade pip uv >/dev/null 2>&1 || true
}
if [ ! -f "$DATA" ]; then
  step "no $DATA: downloading Tiny Shakespeare"
  DATA=$OUT/tinyshakespeare.txt
  [ -s "$DATA" ] || curl -fsSL -o "$DATA" \
    https://raw.githubusercontent.com/karpathy/char-rnn/master/data/tinyshakespeare/input.txt \
    || die "no training text: pass DATA (a text file) or allow downloading Tiny Shakespeare"
fi
step "installing tutor on a CUDA torch into $GPU_VENV"
make_venv "$GPU_VENV"
timeout "$(budget 300)" bash -c "$(declare -f install); install '$GPU_VENV' torch --index-url '$CUDA_WHEELS'" \
  || die "cannot install a CUDA torch wheel from $CUDA_WHEELS (set CUDA_WHEELS to the index for this driver)"
timeout "$(budget 300)" bash -c "$(declare -f install); install '$GPU_VENV' -e '.[local,serve]'" \
  || die "cannot install tutor into $GPU_VENV"
GPY=$GPU_VENV/bin/python
torch_line=$("$GPY" -c 'import torch; print(torch.__version__, "CUDA", torch.version.cuda, torch.cuda.is_available())') \
  || die "torch does not import in $GPU_VENV"
case $torch_line in *True) ;; *) die "torch cannot use the GPU ($torch_line): the wheel's CUDA may be newer than driver $driver; set CUDA_WHEELS" ;; esac

step "installing vLLM into $VLLM_VENV (in the background)"
make_venv "$VLLM_VENV"
( timeout "$(budget 420)" bash -c "$(declare -f install); install '$VLLM_VENV' vllm" >"$OUT/vllm-install.log" 2>&1 \
  && echo ok >"$OUT/vllm-install.status" || echo failed >"$OUT/vllm-install.status" ) &
vllm_install=$!

# ---- 2. train on the GPU with torchrun ------------------------------------------------------
step "training shakespeare-char on $NPROC GPU process(es) with torchrun"
train_status=ok
timeout "$(budget 240)" "$GPY" -m torch.distributed.run --standalone --nproc_per_node="$NPROC" -m tutor train "$DATA" \
  --out "$OUT/shakespeare" --overwrite --preset shakespeare-char --device cuda >"$OUT/train.log" 2>&1 \
  || train_status="failed (see $OUT/train.log)"
summary_fields='import json, sys; s = json.load(open(sys.argv[1])); print(s["ms_per_step"], round(s["final_val_loss"], 4), s["global_batch"])'
read -r gpu_ms gpu_val gpu_batch < <("$GPY" -c "$summary_fields" "$OUT/shakespeare/training.json" 2>/dev/null || echo "- - -")

# ---- 3. vLLM, tutor explain, serve_load -----------------------------------------------------
step "waiting for the vLLM install"
wait "$vllm_install"
explain_result="skipped (no vLLM)"; load_table=""; vllm_line="not installed (see $OUT/vllm-install.log)"
if [ "$(cat "$OUT/vllm-install.status" 2>/dev/null)" = ok ]; then
  VPY=$VLLM_VENV/bin/python
  vllm_line="vLLM $("$VPY" -c 'import vllm; print(vllm.__version__)' 2>/dev/null)"
  serve() {  # serve MODEL: start vLLM, wait until it answers (at most 240 s)
    "$VPY" -m vllm.entrypoints.openai.api_server --model "$1" --served-model-name "$SERVED_NAME" \
      --host 127.0.0.1 --port "$PORT" --gpu-memory-utilization 0.5 --max-model-len 2048 \
      >"$OUT/vllm.log" 2>&1 &
    vllm_pid=$!
    for _ in $(seq "$(budget 240)"); do
      curl -fs "http://127.0.0.1:$PORT/v1/models" >/dev/null 2>&1 && return 0
      kill -0 "$vllm_pid" 2>/dev/null || return 1
      sleep 1
    done
    return 1
  }
  served=$SERVE_MODEL
  serve "$SERVE_MODEL" || served=""
  if [ -n "$served" ]; then
    vllm_line="$vllm_line serving $served"
    step "tutor explain --backend openai against vLLM"
    t0=$SECONDS
    if OPENAI_BASE_URL="http://127.0.0.1:$PORT/v1" OPENAI_API_KEY=gpu-check TUTOR_MODEL=$SERVED_NAME \
        TUTOR_HOME="$OUT/tutor-home" timeout "$(budget 120)" "$GPY" -m tutor explain "recursion" --backend openai \
        --no-feedback --plain --max-tokens 200 </dev/null >"$OUT/explain.txt" 2>"$OUT/explain.err"; then
      explain_result="ok: $(wc -c <"$OUT/explain.txt") bytes in $((SECONDS - t0)) s"
    else
      explain_result="failed: $(head -n 1 "$OUT/explain.err")"
    fi
    step "bench/serve_load.py against vLLM"
    timeout "$(budget 150)" "$GPY" bench/serve_load.py --url "http://127.0.0.1:$PORT/v1" --model "$SERVED_NAME" \
      --levels 1 4 16 --requests 16 --max-tokens 64 --time-limit 30 >"$OUT/serve_load.md" 2>"$OUT/serve_load.err" \
      && load_table=$(grep '^| [0-9]' "$OUT/serve_load.md" \
        | awk -F'|' '{for (i = 2; i <= 12; i++) gsub(/ /, "", $i);
          printf "%s clients: %s ok, %s failed, p95 TTFT %s s, %s tok/s (%s); ", $2, $3, $5, $8, $11, $12}')
    [ -n "$load_table" ] || load_table="failed: $(tail -n 1 "$OUT/serve_load.err")"
  else
    vllm_line="$vllm_line, but it did not start (see $OUT/vllm.log)"
  fi
  kill "$vllm_pid" 2>/dev/null; wait "$vllm_pid" 2>/dev/null
fi

# ---- 4. one table -----------------------------------------------------------------------------
speedup=$(awk -v c="$CPU_MS" -v g="$gpu_ms" 'BEGIN { if (g + 0 > 0) printf "%.1fx", c / g; else print "-" }')
cat <<EOF

| check | result |
|---|---|
| GPU | $gpu_count x $gpu_name, driver $driver |
| torch ($GPU_VENV) | $torch_line |
| train shakespeare-char, torchrun --nproc_per_node=$NPROC | $train_status · global batch $gpu_batch |
| ms/iter, GPU vs CPU | $gpu_ms vs $CPU_MS ($speedup) |
| val loss at step 2000, GPU vs CPU | $gpu_val vs $CPU_VAL |
| vLLM | $vllm_line |
| tutor explain --backend openai | $explain_result |
| bench/serve_load.py (1, 4, 16 clients) | ${load_table:-skipped} |
| total time | $((SECONDS - started)) s |
EOF
[ "$train_status" = ok ] || exit 1

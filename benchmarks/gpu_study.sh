#!/usr/bin/env bash
# The extractor's GPU study in one command: every arm trains at once on one GPU, each in its own process.
#
#   bash benchmarks/gpu_study.sh prepare ENCODER_DIR   # with the project's venv: writes the git-ignored .gpu/
#                                                      # (encoder pruned to the data's characters, fp16, and
#                                                      # the data sets as .gpu/data.tar.xz), ~35 MB in all
#   bash benchmarks/gpu_study.sh recipe                # on the GPU machine, .gpu/ beside the code: ~8 min
#   bash benchmarks/gpu_study.sh ns                    # NS = 10 against NS = K, 3 seeds, DiaKG and DuIE: ~8 min
#   bash benchmarks/gpu_study.sh cpu                   # the same arms in miniature on the CPU (its own test)
#
# Results go to $OUT (default benchmarks/results): study_gpu_<study>[_<dataset>].json, and PNG curves where
# matplotlib is installed. Every arm trains for at most MAX_MINUTES (default 7; `max_minutes`), so that it ends
# with its best checkpoint scored (operating point, training F1); one still running at ARM_TIMEOUT seconds
# (default 480) is stopped and keeps its curve.
set -euo pipefail
cd "$(dirname "$0")/.."
mode=${1:?"usage: bash benchmarks/gpu_study.sh prepare ENCODER_DIR | recipe | ns | cpu"}
OUT=${OUT:-benchmarks/results}
PY=${PYTHON:-python3}
export PYTHONPATH=$PWD PYTHONUNBUFFERED=1 TOKENIZERS_PARALLELISM=false

# The default recipe (TrainConfig's defaults) and the levers around it (settings; see benchmarks/study.py).
RECIPE_ARMS=(
  "default"
  "d768:d_e=768"
  "d1536:d_e=1536"
  "no-ema:ema_decay=0"
  "all-windows:empty_windows=1.0"
  "onerel-dropout:dropout=0.2,pair_dropout=0.1"
  "frozen-embeddings:freeze_embeddings=true"
  "ruijin:extra=ruijin,relation_aliases=SideEff-Drug=ADE_Drug;ruijin:Test_Disease=,epochs=10"
  "nsK:ns=K"
  "mention-replace:mention_replace=0.5"
  "mask-tokens:mask_tokens=0.15"
  "encoder-lr-1e-4:encoder_lr=1e-4"
  "fgm:adversarial=1.0"
  "no-distance:distance_buckets=0"
  "no-between:between_context=false"
  "no-mention-column:mention_column=false,epochs=30"
  "ruijin-first:first=ruijin,first_steps=1000,relation_aliases=SideEff-Drug=ADE_Drug;ruijin:Test_Disease="
)
NS_ARMS=("ns10:ns=10" "nsK:ns=K")

study() {  # study NAME DATASET PARALLEL ARGS...: one benchmarks.study run writing $OUT/study_gpu_NAME.json
  local name=$1 dataset=$2 parallel=$3
  shift 3
  $PY -m benchmarks.study --dataset "$dataset" --parallel "$parallel" --out "$OUT/study_gpu_$name.json" \
    --plot "$OUT/study_gpu_$name.png" "$@"
}

case $mode in
  prepare)
    encoder=${2:?"prepare needs the encoder directory (nrskg encoder bge-zh --out DIR)"}
    data=${DATA_ROOT:-../shared/data}
    mkdir -p .gpu
    $PY -m flows.cli encoder prune "$encoder" --out .gpu/encoder --data "diakg:$data/diakg/train" \
      --data "ruijin:$data/ruijin_round2/train" --data "cmeie:$data/cmeie/train.jsonl" \
      --data "duie:$data/duie/train.jsonl" --texts flows/sample/annotated.jsonl
    tar cJf .gpu/data.tar.xz -C "$data" diakg/train ruijin_round2/train cmeie/train.jsonl duie/train.jsonl
    du -sh .gpu
    ;;
  recipe | ns)
    mkdir -p "$OUT" /tmp/nrskg-data
    tar xJf .gpu/data.tar.xz -C /tmp/nrskg-data
    nvidia-smi --query-gpu=name,memory.total --format=csv,noheader > "$OUT/gpu.txt" || true
    common=(--data-root /tmp/nrskg-data --encoder .gpu/encoder --threads 2 --arm-timeout "${ARM_TIMEOUT:-480}")
    common+=(--set device=cuda curves=true "max_minutes=${MAX_MINUTES:-7}")
    if [ "$mode" = recipe ]; then
      study recipe diakg "${#RECIPE_ARMS[@]}" "${common[@]}" --arms "${RECIPE_ARMS[@]}"
    else
      study ns_diakg diakg 6 "${common[@]}" --arms "${NS_ARMS[@]}" --seeds 0,1,2 &
      study ns_duie duie 6 "${common[@]}" --arms "${NS_ARMS[@]}" --seeds 0,1,2 --set epochs=8 &
      wait
    fi
    ;;
  cpu)  # every arm for a few steps, tiny encoder, first documents: checks the script, not the recipe
    tiny=(--data-root "${DATA_ROOT:-../shared/data}" --encoder tiny --max-docs 3 --threads 1
      --set device=cpu max_steps=2 eval_every=2 window_chars=48 batch_size=4 d_e=16 train_eval_limit=20)
    arms=("${RECIPE_ARMS[@]/d_e=768/d_e=20}")
    arms=("${arms[@]/first_steps=1000/first_steps=2}")
    study cpu_recipe diakg 2 "${tiny[@]}" --arms "${arms[@]/d_e=1536/d_e=24}"
    study cpu_ns duie 2 "${tiny[@]}" --arms "${NS_ARMS[@]}" --seeds 0,1
    ;;
  *)
    echo "unknown mode $mode: use prepare, recipe, ns or cpu" >&2
    exit 2
    ;;
esac

#!/bin/bash
# The H100 quality run of docs/results.md (device call 2), exactly as run. Inputs in the git-ignored .devq/:
#   nrskg encoder prune /tmp/e5-full --out .devq/e5-pruned \
#       --data diakg:../shared/data/diakg/train --data cmeie:../shared/data/cmeie/train.jsonl \
#       --data ruijin:../shared/data/ruijin_round2/train --texts ../shared/data/cmeie/unlabelled.jsonl  # (*)
#   (cd ../shared/data && tar cJf ../../main/.devq/data.tar.xz diakg/train cmeie/train.jsonl)
#   python -m benchmarks.pretrain_corpus --out /tmp/pretrain_words.jsonl && xz -c /tmp/pretrain_words.jsonl > .devq/pretrain_words.jsonl.xz
# then: run `bash benchmarks/quality_gpu.sh` on the GPU machine with .devq carried; $OUT/results.tgz holds the JSON.
# (*) the run used the same kept characters, collected by a script over those sets + the project sample.
# Second device call (lr defaults 3e-3 head / 1e-4 encoder; 128-char windows; outputs bundled in one tarball).
set -u
export PYTHONPATH=. OMP_NUM_THREADS=1 TOKENIZERS_PARALLELISM=false PYTORCH_CUDA_ALLOC_CONF=expandable_segments:True
mkdir -p /tmp/data /tmp/res && tar xJf .devq/data.tar.xz -C /tmp/data
xz -dc .devq/pretrain_words.jsonl.xz > /tmp/pretrain_words.jsonl
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader > /tmp/res/gpu.txt
E5=.devq/e5-pruned
Q="python3 -m benchmarks.quality --data-root /tmp/data --encoder $E5 --device cuda --steps ${STEPS:-700} --eval-every 200 --window-chars 128"
run() { name=$1; shift; timeout ${LIMIT:-185} $Q --out /tmp/res/quality_$name.json --plot /tmp/res/$name.png "$@" > /tmp/res/$name.log 2>&1; echo "$name rc=$? $(date +%s)" >> /tmp/res/done.txt; }
date +%s > /tmp/res/start.txt
( while true; do sleep 15; tar czf $OUT/.results.tgz -C /tmp/res . && mv $OUT/.results.tgz $OUT/results.tgz; done ) &
SAVER=$!
for ns in 2 5 K/2 10 K; do run diakg_$(echo $ns | tr / _)_s0 --datasets diakg --ns $ns --seeds 0 & done
for s in 1 2; do for ns in 10 K; do run diakg_${ns}_s$s --datasets diakg --ns $ns --seeds $s & done; done
for ns in 10 K; do run cmeie_${ns}_s0 --datasets cmeie --ns $ns --seeds 0 & done
( timeout 60 python3 -c "
import logging
logging.basicConfig(level=logging.INFO)
from extractor.pretrain import PretrainConfig, pretrain, read_texts
r = pretrain('$E5', read_texts('/tmp/pretrain_words.jsonl'), '/tmp/e5-dapt',
             PretrainConfig(steps=${PT_STEPS:-300}, batch_size=64, lr=1e-4, device='cuda', log_every=50), progress=False)
print('first', r.first_loss, 'last', r.last_loss, 'wall', r.wall_time_s, 'chunks', r.chunks)
" > /tmp/res/pretrain.log 2>&1; cp /tmp/e5-dapt/pretrain_metrics.json /tmp/res/
  LIMIT=125 run diakg_dapt_10_s0 --datasets diakg --ns 10 --seeds 0 --encoder /tmp/e5-dapt ) &
wait $(jobs -p | grep -v "^$SAVER$")
kill $SAVER
tar czf $OUT/results.tgz -C /tmp/res .

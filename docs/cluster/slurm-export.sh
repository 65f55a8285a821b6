#!/bin/bash
# AttnScope batch export as a Slurm job array: task i of the array exports shard i of n
# (attnscope export --shard i/n), all tasks writing into one shared output folder; a second
# job that depends on the array joins the shard manifests into export.json.
#
#   jobid=$(sbatch --parsable --array=0-15 docs/cluster/slurm-export.sh /shared/images /shared/out)
#   sbatch --dependency=afterok:$jobid --wrap "npx attnscope export --merge /shared/out --out /shared/out"
#
# Extra arguments after the two folders go to `attnscope export` (--kinds, --modules, --weights ...).
# A task that fails or is preempted can be resubmitted alone (sbatch --array=7 ...): finished
# images are kept, so it resumes. ATTNSCOPE overrides the command (default: npx attnscope).
#SBATCH --job-name=attnscope-export
#SBATCH --array=0-15
#SBATCH --gpus=1
#SBATCH --cpus-per-task=8
#SBATCH --mem=16G
#SBATCH --time=04:00:00
#SBATCH --output=attnscope-export-%A_%a.log
set -euo pipefail
images=${1:?usage: slurm-export.sh IMAGES_DIR OUT_DIR [export options]}
out=${2:?usage: slurm-export.sh IMAGES_DIR OUT_DIR [export options]}
shift 2
: "${SLURM_ARRAY_TASK_ID:?run this as a Slurm job array (sbatch --array=0-N)}"
: "${SLURM_ARRAY_TASK_COUNT:?Slurm sets SLURM_ARRAY_TASK_COUNT for job arrays (18.08 and later)}"
# Arrays may start above 0 (--array=1-16): shard indices are 0-based.
index=$((SLURM_ARRAY_TASK_ID - ${SLURM_ARRAY_TASK_MIN:-0}))
read -r -a attnscope <<< "${ATTNSCOPE:-npx attnscope}"
exec "${attnscope[@]}" export "$images" --out "$out" --shard "$index/$SLURM_ARRAY_TASK_COUNT" \
  --device auto --jobs "${SLURM_CPUS_PER_TASK:-1}" --quiet "$@"

#!/usr/bin/env bash
# The one prepared GPU check (docs/cuda.md): perf/gpu-check.sh OUT_DIR
#
# Where the .NET SDK is installed, it first publishes, self-contained for linux-x64 (the GPU machine needs no .NET),
# the GPU check program (trimmed) and the CUDA test suite (partly trimmed), and packs both into
# perf/gpu-check-bin.tar.gz (about 25 MB; carry it to the GPU machine with the working tree). Where there is no SDK,
# it runs what that archive holds. Then, within about 8 minutes on a modern GPU:
#   1. the CUDA test suite's real-GPU tests (GpuTests) → OUT_DIR/gpu-tests.txt and gpu-tests.xml
#   2. Engine.GpuCheck: op parity, CPU-vs-GPU training curves, 16×L evaluation, flat memory, throughput
#      → OUT_DIR/gpu-check.md and gpu-check.csv
# Exit status: 0 when everything passed, 1 when a test or check failed, 2 when CUDA or the binaries are missing.
set -uo pipefail
out=${1:?usage: perf/gpu-check.sh OUT_DIR}
root=$(cd "$(dirname "$0")/.." && pwd)
archive="$root/perf/gpu-check-bin.tar.gz"

if command -v dotnet > /dev/null 2>&1 && [ "${GPU_CHECK_NO_PUBLISH:-0}" != 1 ]; then
  stage=$(mktemp -d)
  echo "publishing the GPU check and the CUDA tests (linux-x64, self-contained) ..."
  dotnet publish "$root/perf/GpuCheck" -c Release -r linux-x64 --self-contained -p:PublishTrimmed=true \
    -o "$stage/check" > "$stage/publish.log" 2>&1 &&
  dotnet publish "$root/tests/Engine.Cuda.Tests" -c Release -r linux-x64 --self-contained -p:PublishTrimmed=true \
    -p:TrimMode=partial -p:SuppressTrimAnalysisWarnings=true -o "$stage/tests" >> "$stage/publish.log" 2>&1 ||
    { cat "$stage/publish.log"; echo "gpu-check: publishing failed"; exit 2; }
  # Debugger and dump helpers are not needed to run.
  rm -f "$stage"/*/libmscordaccore.so "$stage"/*/libmscordbi.so "$stage"/*/createdump
  tar -czf "$archive.tmp" -C "$stage" check tests && mv "$archive.tmp" "$archive"
  rm -rf "$stage"
  echo "wrote $archive ($(du -h "$archive" | cut -f1))"
fi
[ -f "$archive" ] || { echo "gpu-check: $archive is missing; run this script once where the .NET SDK is installed"; exit 2; }

mkdir -p "$out"
out=$(cd "$out" && pwd)
bin=$(mktemp -d)
trap 'rm -rf "$bin"' EXIT
tar -xzf "$archive" -C "$bin"
# NVRTC's PTX cache goes next to the report, never into a driver or home folder that may be read-only.
export ENGINE_CUDA_CACHE="${ENGINE_CUDA_CACHE:-$out/kernel-cache}"
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1

status=0
echo "1/2 real-GPU tests ..."
timeout 150 "$bin/tests/Engine.Cuda.Tests" -class Engine.Cuda.Tests.GpuTests -xml "$out/gpu-tests.xml" > "$out/gpu-tests.txt" 2>&1
rc=$?
tail -3 "$out/gpu-tests.txt"
[ $rc -eq 0 ] || { echo "gpu-check: the GPU tests exited with $rc"; status=1; }
if grep -q "Skipped: [1-9]" "$out/gpu-tests.txt"; then echo "gpu-check: GPU tests were skipped (no usable CUDA driver?)"; status=1; fi

echo "2/2 Engine.GpuCheck ..."
timeout 390 "$bin/check/Engine.GpuCheck" --quick --out "$out" 2>&1 | tee "$out/gpu-check.txt"
rc=${PIPESTATUS[0]}
case $rc in
  0) ;;
  2) echo "gpu-check: CUDA is not available"; [ $status -eq 0 ] && status=2 ;;
  124) echo "gpu-check: Engine.GpuCheck ran past its time limit"; status=1 ;;
  *) status=1 ;;
esac
# The PyTorch peer on the same GPU, same GPT shape as the check's "GPT train step" row, when torch is importable.
if command -v python3 > /dev/null 2>&1 && python3 -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)" > /dev/null 2>&1; then
  echo "peer: PyTorch eager (perf/peers/pytorch_gpt.py) ..."
  for attn in softmax lssar; do
    timeout 60 python3 "$root/perf/peers/pytorch_gpt.py" --attention $attn --steps 5 --layers 6 --dim 512 --heads 8 \
      --context 256 --batch 16 --vocab 256 2>&1 | tail -1 | tee -a "$out/pytorch-peer.txt"
  done
else
  echo "peer: no PyTorch with CUDA here; the Engine figures stand alone" | tee "$out/pytorch-peer.txt"
fi
echo "reports in $out: gpu-tests.txt, gpu-tests.xml, gpu-check.md, gpu-check.csv, pytorch-peer.txt (exit $status)"
exit $status

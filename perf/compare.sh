#!/usr/bin/env bash
# Measures Engine's whole table (matrix products, fused attention, the GPT train step, sampling, and the train step's
# allocation and memory) and the peer (libtorch via TorchSharp-cpu: its matmul, attn and gpt commands) alternately in
# one window, and prints the Markdown table with both, ratios and the performance issue's targets. The peer harness is copied to a temporary folder and built there; it is never part of
# the solution. Usage: perf/compare.sh [repeats] [peer harness folder]
#   TUNED=1 also applies the peer's recommended allocator/ISA settings (see its README) to the peer runs;
#   PEER_ENV="NAME=VALUE ..." adds settings of your own to them (e.g. to hold libtorch to AVX2 while Engine runs with
#   DOTNET_EnableAVX512=0: PEER_ENV="ATEN_CPU_CAPABILITY=avx2 MKL_ENABLE_INSTRUCTIONS=AVX2 ONEDNN_MAX_CPU_ISA=AVX2").
set -euo pipefail
cd "$(dirname "$0")/.."
repeats=${1:-3}
peer_src=${2:-../shared/peers/torchsharp}
[[ -d "$peer_src" ]] || { echo "peer harness not found at $peer_src" >&2; exit 1; }
work=$(mktemp -d)
cp -r "$peer_src" "$work/torchsharp"
chmod -R u+w "$work/torchsharp"
dotnet build -c Release "$work/torchsharp/TorchBench.csproj" >"$work/peer-build.log"
dotnet build -c Release perf/Engine.Perf >"$work/engine-build.log"
peer_env=""
if [[ "${TUNED:-0}" == 1 ]]; then
  peer_env="GLIBC_TUNABLES=glibc.malloc.mmap_threshold=33554432:glibc.malloc.trim_threshold=17179869184:glibc.malloc.top_pad=67108864 ATEN_CPU_CAPABILITY=avx2"
fi
peer_env="$peer_env ${PEER_ENV:-}"
files=$(seq -s, -f "$work/peer%g.txt" 0 $((repeats - 1)))
dotnet perf/Engine.Perf/bin/Release/net10.0/Engine.Perf.dll table --repeat "$repeats" \
  --between "for what in matmul attn 'gpt 15'; do env $peer_env dotnet run -c Release --no-build --project '$work/torchsharp' -- \$what; done > '$work'/peer\$RUN.txt" \
  --peer "$files"
echo "peer outputs: $work" >&2

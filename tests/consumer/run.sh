#!/usr/bin/env bash
# Consumer test: NtkDsl as a user meets it, through `dotnet add package`.
#
#  1. packs src/NtkDsl.Runtime (the NtkDsl package, generator inside) from a clean build into a local
#     folder feed under a temp dir, with a unique pre-release version (0.1.0-consumer.<time>.<pid>), so
#     that no package cached by an earlier run can stand in for this one;
#  2. checks the package layout (lib/, analyzers/dotnet/cs/, README, LICENSE, nuspec metadata);
#  3. creates a console project OUTSIDE the repository (temp dir, its own nuget.config: the local feed for
#     NtkDsl* only, nuget.org for the rest), referencing NtkDsl by version only; builds it, runs it, and
#     checks its output (sizes, parameter count, the NTK equal to explicit J J^T);
#  4. builds a project with wrong declarations and checks that the build fails with NTK0004 and NTK0001;
#  5. packs src/NtkDsl.Runtime.Torch (NtkDsl.Torch) into the same feed with the same version, checks its layout
#     and dependencies, then builds and runs a second console project outside the repository that references
#     NtkDsl.Torch (by version only, NOT NtkDsl: runtime and generator must come transitively) and
#     libtorch-cpu-linux-x64, and checks the generated NTK on TorchNetwork<TNet> against the CPU result
#     (skip with NTKDSL_CONSUMER_TORCH=0);
#  6. publishes the first consumer with NativeAOT and checks that the native program prints the same results
#     (skip with NTKDSL_CONSUMER_AOT=0).
#
# Prints "ok - <check>" / "not ok - <check>" per check and exits non-zero if any failed. When
# NTKDSL_CONSUMER_RESULTS names a file, appends "pass <check>" / "fail <check>" lines to it (.ci/run counts
# them). NTKDSL_CONSUMER_KEEP=1 keeps the temp dir for inspection.
set -uo pipefail

repo=$(cd "$(dirname "$0")/../.." && pwd)
here="$repo/tests/consumer"
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1

work=$(mktemp -d "${TMPDIR:-/tmp}/ntkdsl-consumer.XXXXXX")
suffix="consumer.$(date -u +%Y%m%d%H%M%S).$$"
packages=${NUGET_PACKAGES:-$(dotnet nuget locals global-packages --list | sed -n 's/^global-packages: //p')}
version=""
cleanup() {
  # The unique version is useless after this run: drop it from the global packages folder.
  if [ -n "$version" ] && [ -n "$packages" ]; then
    for id in ntkdsl ntkdsl.torch; do
      rm -rf "${packages%/}/$id/$version"
      rmdir "${packages%/}/$id" 2>/dev/null
    done
  fi
  if [ "${NTKDSL_CONSUMER_KEEP:-0}" = 1 ]; then echo "kept $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT

passed=0 failed=0
check() { # check NAME COMMAND...: runs the command quietly, records the result
  local name=$1; shift
  if "$@" >>"$work/checks.log" 2>&1; then
    echo "ok - $name"; passed=$((passed + 1))
    [ -n "${NTKDSL_CONSUMER_RESULTS:-}" ] && echo "pass $name" >>"$NTKDSL_CONSUMER_RESULTS"
  else
    echo "not ok - $name"; failed=$((failed + 1))
    [ -n "${NTKDSL_CONSUMER_RESULTS:-}" ] && echo "fail $name" >>"$NTKDSL_CONSUMER_RESULTS"
  fi
  return 0
}
started=$SECONDS
step() { echo "== $1 (at $((SECONDS - started)) s)"; }
finish() {
  echo "consumer test: $passed of $((passed + failed)) checks ok in $((SECONDS - started)) s"
  [ "$failed" -eq 0 ]
  exit
}
show() { echo "---- $1"; tail -n "${2:-40}" "$1"; echo "----"; }

# 1. Pack from a clean build (own artifacts folder: nothing from the repository's bin/obj is reused).
step "pack NtkDsl (version suffix $suffix)"
if dotnet pack "$repo/src/NtkDsl.Runtime/NtkDsl.Runtime.csproj" -c Release --version-suffix "$suffix" \
     --artifacts-path "$work/artifacts" -o "$work/feed" >"$work/pack.log" 2>&1; then
  check "dotnet pack NtkDsl" true
else
  check "dotnet pack NtkDsl" false; show "$work/pack.log"; finish
fi
nupkg=$(ls "$work/feed"/NtkDsl.*.nupkg 2>/dev/null | grep -v '\.snupkg$' | head -n 1)
version=$(basename "$nupkg" .nupkg); version=${version#NtkDsl.}
echo "package $version"

# 2. Layout and metadata.
unzip -Z1 "$nupkg" >"$work/entries.txt"
unzip -p "$nupkg" NtkDsl.nuspec >"$work/NtkDsl.nuspec"
has() { grep -qxF "$1" "$work/entries.txt"; }
check "package has lib/net10.0/NtkDsl.dll and its XML docs" eval 'has lib/net10.0/NtkDsl.dll && has lib/net10.0/NtkDsl.xml'
check "package has the generator under analyzers/dotnet/cs" has analyzers/dotnet/cs/NtkDsl.Generator.dll
check "package has the generator nowhere else (not a lib reference)" \
  eval '[ "$(grep -c "NtkDsl.Generator" "$work/entries.txt")" -eq 1 ]'
check "package has README.md, LICENSE, CHANGELOG.md and the diagnostics' pages" \
  eval 'has README.md && has LICENSE && has CHANGELOG.md && has docs/diagnostics/NTK0004.md'
unzip -p "$nupkg" README.md >"$work/README.md"
check "packaged README has no relative links (they would not resolve on a package page)" \
  eval '! grep -Eo "\]\([^)]*\)" "$work/README.md" | grep -Ev "^\]\((https?://|#)"'
check "nuspec and README show no placeholder address" eval '! grep -qi "REPLACE-WITH" "$work/NtkDsl.nuspec" "$work/README.md"'
check "nuspec: MIT licence expression, readme, repository, version" \
  eval 'grep -q "<license type=\"expression\">MIT</license>" "$work/NtkDsl.nuspec" &&
        grep -q "<readme>README.md</readme>" "$work/NtkDsl.nuspec" &&
        grep -q "<repository type=\"git\"" "$work/NtkDsl.nuspec" &&
        grep -q "<version>$version</version>" "$work/NtkDsl.nuspec"'
check "nuspec: no dependency on the generator" eval '! grep -q "dependency id=\"NtkDsl.Generator\"" "$work/NtkDsl.nuspec"'

# 3. A fresh console project outside the repository.
step "build and run a consumer outside the repository"
# Empty Directory.Build.* files stop MSBuild from importing any found further up the temp dir.
echo '<Project />' >"$work/Directory.Build.props"
echo '<Project />' >"$work/Directory.Build.targets"
cat >"$work/nuget.config" <<EOF
<?xml version="1.0" encoding="utf-8"?>
<configuration>
  <packageSources>
    <clear />
    <add key="local" value="$work/feed" />
    <add key="nuget.org" value="https://api.nuget.org/v3/index.json" protocolVersion="3" />
  </packageSources>
  <packageSourceMapping>
    <packageSource key="local">
      <package pattern="NtkDsl" />
      <package pattern="NtkDsl.*" />
    </packageSource>
    <packageSource key="nuget.org">
      <package pattern="*" />
    </packageSource>
  </packageSourceMapping>
</configuration>
EOF
for project in app bad; do
  mkdir -p "$work/$project"
  cp "$here/$project"/*.cs "$work/$project/"
  sed "s/@VERSION@/$version/" "$here/Consumer.csproj.template" >"$work/$project/Consumer.csproj"
done

if dotnet build "$work/app" -c Release >"$work/build.log" 2>&1; then
  check "consumer builds against the package" true
else
  check "consumer builds against the package" false; show "$work/build.log"; finish
fi
generated=$(find "$work/app/obj" -path '*generated/NtkDsl.Generator/NtkDsl.Generator.NetworkGenerator/Consumer.TinyNet.g.cs' | head -n 1)
check "EmitCompilerGeneratedFiles writes Consumer.TinyNet.g.cs" test -n "$generated"
check "generator assembly is not copied to the output" eval '[ -z "$(find "$work/app/bin" -name "NtkDsl.Generator.dll")" ]'

dotnet "$work/app/bin/Release/net10.0/Consumer.dll" >"$work/run.txt" 2>&1
cat "$work/run.txt"
out() { grep -qxF "$1" "$work/run.txt"; }
check "consumer prints sizes: 3 inputs, 2 outputs, 218 parameters" eval 'out inputs=3 && out outputs=2 && out parameters=218'
check "consumer NTK (Full) is [6, 6] and equals J J^T to 1e-10" eval 'out ntk-shape=6x6 && out ntk-matches-jjt=yes'

# 4. Wrong declarations fail the build with the documented errors.
step "build wrong declarations"
if dotnet build "$work/bad" -c Release >"$work/bad.log" 2>&1; then
  check "wrong declarations fail the build" false
else
  check "wrong declarations fail the build" true
fi
check "Dense(0) reports error NTK0004" grep -q "error NTK0004: Dense layer 1 of 'ZeroWidth' has width 0" "$work/bad.log"
check "the error carries its help link (docs/diagnostics/NTK0004.md, a page in the package)" grep -q "error NTK0004: .*docs/diagnostics/NTK0004\.md" "$work/bad.log"
check "a non-partial network reports error NTK0001" grep -q "error NTK0001: The network class 'NotPartial' must be declared partial" "$work/bad.log"

# 5. NtkDsl.Torch: pack into the same feed with the same version, then a second consumer that uses it.
if [ "${NTKDSL_CONSUMER_TORCH:-1}" != 0 ]; then
  step "pack NtkDsl.Torch"
  if dotnet pack "$repo/src/NtkDsl.Runtime.Torch/NtkDsl.Runtime.Torch.csproj" -c Release --version-suffix "$suffix" \
       --artifacts-path "$work/artifacts" -o "$work/feed" >"$work/pack-torch.log" 2>&1 &&
     [ -f "$work/feed/NtkDsl.Torch.$version.nupkg" ]; then
    check "dotnet pack NtkDsl.Torch (same version $version)" true
    torch_nupkg="$work/feed/NtkDsl.Torch.$version.nupkg"
    unzip -Z1 "$torch_nupkg" >"$work/torch-entries.txt"
    unzip -p "$torch_nupkg" NtkDsl.Torch.nuspec >"$work/NtkDsl.Torch.nuspec"
    thas() { grep -qxF "$1" "$work/torch-entries.txt"; }
    # The <dependency id="NtkDsl" .../> element (one line in NuGet's nuspec).
    ntkdsl_dependency=$(grep -o '<dependency id="NtkDsl" [^>]*>' "$work/NtkDsl.Torch.nuspec")
    check "NtkDsl.Torch package has lib/net10.0/NtkDsl.Torch.dll and its XML docs" \
      eval 'thas lib/net10.0/NtkDsl.Torch.dll && thas lib/net10.0/NtkDsl.Torch.xml'
    check "NtkDsl.Torch package has NtkDsl.Torch.targets under build/ and buildTransitive/" \
      eval 'thas build/NtkDsl.Torch.targets && thas buildTransitive/NtkDsl.Torch.targets'
    check "NtkDsl.Torch package carries neither NtkDsl.dll nor the generator (they come from NtkDsl)" \
      eval '! grep -q "NtkDsl\.dll\|NtkDsl\.Generator\|^analyzers/" "$work/torch-entries.txt"'
    check "NtkDsl.Torch nuspec: depends on NtkDsl $version with the generator not excluded" \
      eval '[ -n "$ntkdsl_dependency" ] && echo "$ntkdsl_dependency" | grep -q "version=\"$version\"" &&
            ! echo "$ntkdsl_dependency" | grep -qi "exclude=\"[^\"]*\(analyzers\|build\)"'
    check "NtkDsl.Torch nuspec: depends on TorchSharp 0.107.0 and on no libtorch package" \
      eval 'grep -q "<dependency id=\"TorchSharp\" version=\"0.107.0\"" "$work/NtkDsl.Torch.nuspec" &&
            ! grep -qi "dependency id=\"libtorch" "$work/NtkDsl.Torch.nuspec"'

    step "build and run a torch consumer outside the repository"
    mkdir -p "$work/torch"
    cp "$here/torch"/*.cs "$work/torch/"
    sed "s/@VERSION@/$version/" "$here/TorchConsumer.csproj.template" >"$work/torch/TorchConsumer.csproj"
    if dotnet build "$work/torch" -c Release >"$work/build-torch.log" 2>&1; then
      check "torch consumer (NtkDsl.Torch + libtorch-cpu-linux-x64 only) builds" true
      check "torch consumer has no direct NtkDsl reference but gets NtkDsl $version transitively" \
        eval '! grep -q "Include=\"NtkDsl\"" "$work/torch/TorchConsumer.csproj" &&
              grep -q "\"NtkDsl/$version\"" "$work/torch/obj/project.assets.json"'
      check "the generator runs through NtkDsl.Torch (TorchConsumer.SmallNet.g.cs generated)" \
        eval '[ -n "$(find "$work/torch/obj" -path "*generated/NtkDsl.Generator/NtkDsl.Generator.NetworkGenerator/TorchConsumer.SmallNet.g.cs")" ]'
      dotnet "$work/torch/bin/Release/net10.0/TorchConsumer.dll" >"$work/run-torch.txt" 2>&1
      cat "$work/run-torch.txt"
      tout() { grep -qxF "$1" "$work/run-torch.txt"; }
      check "torch loads in the torch consumer (via NtkDsl.Torch.targets where libstdc++ is older than GCC 13)" \
        eval 'tout parameters=159 && tout torch-loaded=yes'
      check "TorchNetwork<SmallNet> float64 forward, NTK Full and NTK Trace(x1, x2) equal the CPU results to 1e-10" \
        eval 'tout forward-matches-cpu=yes && tout ntk-full-shape=9x9 && tout ntk-full-matches-cpu=yes &&
              tout ntk-trace-x1x2-shape=3x2 && tout ntk-trace-x1x2-matches-cpu=yes'
    else
      check "torch consumer (NtkDsl.Torch + libtorch-cpu-linux-x64 only) builds" false; show "$work/build-torch.log"
    fi
  else
    check "dotnet pack NtkDsl.Torch (same version $version)" false; show "$work/pack-torch.log"
  fi
fi

# 6. NativeAOT.
if [ "${NTKDSL_CONSUMER_AOT:-1}" != 0 ]; then
  step "publish the consumer with NativeAOT"
  rid=linux-x64; [ "$(uname -m)" = aarch64 ] && rid=linux-arm64
  if dotnet publish "$work/app" -c Release -r "$rid" -o "$work/aot" >"$work/aot.log" 2>&1; then
    check "NativeAOT publish succeeds without warnings" eval '! grep -q ": warning [A-Z]" "$work/aot.log"'
    "$work/aot/Consumer" >"$work/aot.txt" 2>&1
    # Floating-point lines may differ in the last bits (the AOT baseline ISA may vectorize differently).
    check "NativeAOT program prints the same sizes and NTK check" \
      eval 'diff <(grep -v "^ntk00=\|^ntk-relative" "$work/run.txt") <(grep -v "^ntk00=\|^ntk-relative" "$work/aot.txt")'
  else
    check "NativeAOT publish succeeds without warnings" false; show "$work/aot.log"
  fi
fi

finish

#!/usr/bin/env bash
# Consumer check for the NuGet packages: packs the six libraries into a temporary local folder feed (with a unique
# prerelease version so no stale package in the NuGet cache can stand in for them), copies test/PackageSmoke outside
# the repository (so it sees none of the repository's Directory.Build.*/Directory.Packages.props), builds it against
# the feed plus nuget.org (TorchSharp-cpu 0.107.0, Microsoft.ML 5.0.1), runs it, then publishes it framework-dependent
# and for linux-x64 and runs both. Each output's libLibTorchSharp.so must carry the GLIBCXX_3.4.32 patch (exactly one
# byte differs from the NuGet cache copy) when the system libstdc++ lacks that version, and be untouched otherwise.
#
# Usage: .ci/package-smoke.sh [--no-build]   (--no-build: the libraries are already built with -c Release)
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
NO_BUILD=()
if [[ "${1:-}" == "--no-build" ]]; then NO_BUILD=(--no-build); fi

VERSION="0.1.0-smoke.$(date +%s).$$"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/components-smoke.XXXXXX")"
NUGET_CACHE="$(dotnet nuget locals global-packages --list | sed -n 's/^global-packages: *//p')"
NUGET_CACHE="${NUGET_CACHE%/}"
cleanup() {
  rm -rf "$WORK"
  # The unique-version packages restored from the temporary feed are of no further use.
  [[ -n "$NUGET_CACHE" ]] && for id in core transforms trainers kernels samplers orleans; do
    rm -rf "$NUGET_CACHE/components.$id/$VERSION"
    rmdir "$NUGET_CACHE/components.$id" 2>/dev/null || true
  done
}
trap cleanup EXIT

fail() { echo "package-smoke: FAIL: $*" >&2; exit 1; }

echo "package-smoke: version $VERSION, work folder $WORK"
dotnet pack "$REPO/Components.sln" -c Release "${NO_BUILD[@]}" -o "$WORK/feed" -p:Version="$VERSION"
for id in Core Transforms Trainers Kernels Samplers Orleans; do
  [[ -f "$WORK/feed/Components.$id.$VERSION.nupkg" ]] || fail "Components.$id.$VERSION.nupkg was not produced"
done

mkdir -p "$WORK/app"
cp "$REPO"/test/PackageSmoke/*.cs "$REPO"/test/PackageSmoke/*.csproj "$REPO"/test/PackageSmoke/Directory.* "$WORK/app/"
cat > "$WORK/app/nuget.config" <<EOF
<?xml version="1.0" encoding="utf-8"?>
<configuration>
  <!-- The local feed is added to the sources of the user's and machine's NuGet configuration (nuget.org by default). -->
  <packageSources>
    <add key="components-local" value="$WORK/feed" />
  </packageSources>
</configuration>
EOF

# Does the system libstdc++ provide GLIBCXX_3.4.32? (the same locations the MSBuild patch target looks at)
SYSTEM_HAS_IT=false
for d in /usr/lib/x86_64-linux-gnu /lib/x86_64-linux-gnu /usr/lib/aarch64-linux-gnu /usr/lib64 /usr/lib; do
  if [[ -f "$d/libstdc++.so.6" ]] && grep -qaF 'GLIBCXX_3.4.32' "$d/libstdc++.so.6"; then SYSTEM_HAS_IT=true; break; fi
done
ORIGINAL="$NUGET_CACHE/torchsharp/0.107.0/runtimes/linux-x64/native/libLibTorchSharp.so"
echo "package-smoke: system libstdc++ provides GLIBCXX_3.4.32: $SYSTEM_HAS_IT"

check_so() { # $1 = the libLibTorchSharp.so in a build or publish output
  [[ -f "$1" ]] || fail "$1 is missing"
  [[ -f "$ORIGINAL" ]] || fail "$ORIGINAL (the NuGet cache copy) is missing"
  local diffs
  diffs="$( (cmp -l "$ORIGINAL" "$1" || true) | wc -l)"
  if [[ "$SYSTEM_HAS_IT" == true ]]; then
    [[ "$diffs" == 0 ]] || fail "$1 was changed although the system libstdc++ provides GLIBCXX_3.4.32"
    echo "package-smoke: $1 left as is (not needed here)"
  else
    [[ "$diffs" == 1 ]] || fail "$1 differs from the NuGet cache copy in $diffs bytes; expected exactly 1 (the VER_FLG_WEAK bit; 0 means unpatched, or a patched NuGet cache)"
    echo "package-smoke: $1 is patched (1 byte differs from the NuGet cache copy)"
  fi
}

check_publish_hook() { # $1 = publish log, $2 = published .so: the AfterTargets="Publish" hook must have patched it
  if [[ "$SYSTEM_HAS_IT" == false ]]; then
    grep -qF "marked GLIBCXX_3.4.32 weak in $2" "$1" || fail "the publish hook did not report patching $2"
  fi
}

PROPS=(-c Release -p:ComponentsVersion="$VERSION")

echo "=== package-smoke: build and run the consumer app ==="
dotnet build "$WORK/app/PackageSmoke.csproj" "${PROPS[@]}"
check_so "$WORK/app/bin/Release/net10.0/runtimes/linux-x64/native/libLibTorchSharp.so"
dotnet "$WORK/app/bin/Release/net10.0/PackageSmoke.dll"

echo "=== package-smoke: consumer that references Components.Trainers only (Components.Core comes transitively) ==="
cp -r "$WORK/app" "$WORK/app-transitive"
rm -rf "$WORK/app-transitive/bin" "$WORK/app-transitive/obj"
dotnet build "$WORK/app-transitive/PackageSmoke.csproj" "${PROPS[@]}" -p:SmokeDirectCoreReference=false
if grep -qF '"Components.Core": {' "$WORK/app-transitive/obj/project.assets.json"; then
  fail "app-transitive references Components.Core directly"
fi
check_so "$WORK/app-transitive/bin/Release/net10.0/runtimes/linux-x64/native/libLibTorchSharp.so"
dotnet "$WORK/app-transitive/bin/Release/net10.0/PackageSmoke.dll"
rm -rf "$WORK/app-transitive"

echo "=== package-smoke: dotnet publish (framework-dependent, portable) ==="
dotnet publish "$WORK/app/PackageSmoke.csproj" "${PROPS[@]}" -o "$WORK/publish-fd" | tee "$WORK/publish-fd.log"
check_so "$WORK/publish-fd/runtimes/linux-x64/native/libLibTorchSharp.so"
check_publish_hook "$WORK/publish-fd.log" "$WORK/publish-fd/runtimes/linux-x64/native/libLibTorchSharp.so"
dotnet "$WORK/publish-fd/PackageSmoke.dll"
rm -rf "$WORK/publish-fd" # ~0.5 GB of native libraries

echo "=== package-smoke: dotnet publish -r linux-x64 ==="
dotnet publish "$WORK/app/PackageSmoke.csproj" "${PROPS[@]}" -r linux-x64 -o "$WORK/publish-rid" | tee "$WORK/publish-rid.log"
check_so "$WORK/publish-rid/libLibTorchSharp.so"
check_publish_hook "$WORK/publish-rid.log" "$WORK/publish-rid/libLibTorchSharp.so"
"$WORK/publish-rid/PackageSmoke"

echo "package-smoke: all checks passed"

#!/bin/bash
# The README's test command (sudo make test): unit tests of every package, the
# end-to-end tests in the simulated mesh (build tag e2e, one package at a time
# so that lab timings are not disturbed), then the non-Go checks in test.d/.
set -euo pipefail
cd "$(dirname "$0")/../.."
top=$PWD
export PATH=$PATH:/usr/local/go/bin
cd src
go vet ./...
unformatted=$(go list -f '{{.Dir}}' ./... | xargs gofmt -l)
if [ -n "$unformatted" ]; then
	echo "test: gofmt would change: $unformatted" >&2
	exit 1
fi
go test -count=1 -timeout 20m ./...
if [ "$(id -u)" -eq 0 ]; then
	go test -count=1 -p 1 -timeout 40m -tags e2e -run 'E2E' ./...
else
	echo "test: not root, end-to-end tests skipped"
fi
cd "$top"
for t in files/scripts/test.d/*.sh; do
	[ -e "$t" ] || continue
	echo "== $t"
	bash "$t"
done

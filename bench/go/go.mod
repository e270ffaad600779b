module handoff/bench/go

go 1.19

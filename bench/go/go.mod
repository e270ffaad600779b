module handoff/bench/go_bench

go 1.19

// Command scale is the fleet-scale benchmark of issue 9: it measures how
// leasectl lists and follows 100,000 leases next to each store's own tool,
// on the same data, in the same run.
//
// It starts the three real servers the tests use (etcd and NATS embedded in
// this process, a Consul agent in -dev mode as a child), seeds N leases
// through each store's own client, and measures whole processes:
//
//   - ls: `leasectl ls -o json` and `-o table` (piped) against the store's
//     own listing (etcdctl get --prefix -w json; consul kv export and the raw
//     HTTP listing; for NATS the natswatch baseline), alternating, medians
//     of -runs, wall time, user and system CPU and peak RSS (rusage), at
//     every size of -sizes up to -n;
//   - console: the real binary in a real terminal (tmux), one store at a
//     time and all three at once: time to the first lease row and to "live"
//     with every key, and peak RSS (VmHWM);
//   - steady: at -n, with -rate writes a second spread over the keys, the
//     console's CPU and the write-to-screen latency;
//   - profiles (-profile): CPU and allocation profiles and a GC trace of
//     `ls -o json` per store and of the console's sync, through
//     bench/scale/leasectlprof.
//
// Run it with `make bench-scale` (N=…, SIZES=…, BENCH_SCALE_ARGS=…), which
// installs etcdctl and tmux when missing, builds Consul and every binary,
// and runs scripts/bench-scale.sh. FINDINGS.md explains the results and
// BEFORE.txt keeps the first run.
package main

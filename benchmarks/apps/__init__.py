"""One app per peer, each serving the same URLs: GET / ("Hello, World!"),
POST /echo (the body back) and GET /static/<file> (a file of the docroot).
Each is started as its own process by benchmarks/peers.py; the port and the
docroot come from the command line or FASTCORE_BENCH_DOCROOT."""

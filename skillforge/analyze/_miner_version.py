"""The offline miner's version, apart from the miner, so that reading it loads no miner code
(a distill's reuse check keys on it; ``skillforge.analyze`` exports it). Bump it when the
miner's lessons for the same store change."""

MINER_VERSION = "1"
